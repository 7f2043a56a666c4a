"""`hotline serve`: run the application until SIGINT/SIGTERM, then stop cleanly."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from hotline.app import create_app
from hotline.config import Config
from hotline.datadir import PRIVATE_UMASK
from hotline.logs import setup_logging

log = logging.getLogger("hotline.server")


def serve(cfg: Config) -> None:
    """Run the server in the foreground."""
    # A service holding victims' data creates nothing others may read (hotline/datadir.py).
    os.umask(PRIVATE_UMASK)
    setup_logging(cfg.privacy.log_level)
    app = create_app(cfg)

    async def _announce(_app: web.Application) -> None:
        log.info("hotline serving", extra={"url": cfg.server.public_url,
                                           "chat": "/chat", "console": "/console"})

    app.on_startup.append(_announce)
    web.run_app(app, host=cfg.server.host, port=cfg.server.port,
                shutdown_timeout=cfg.server.shutdown_timeout, print=None)
