"""The application factory: `create_app(config)` wires stores, services and routes.

Each shared resource is opened and closed in its own cleanup context, in dependency order;
long-lived event streams are closed in on_shutdown so a stop does not wait for browsers.
See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hotline import datadir, loopwatch
from hotline.cases import (
    abandon,
    alerts,
    floor_api,
    livesync,
    outbox,
    presence,
    queue_feed,
    retention,
    roster,
    roster_api,
    router,
    signals_api,
    urgency,
)
from hotline.cases import api as console_api
from hotline.cases import pages as console_pages
from hotline.cases.live import LiveStore
from hotline.channels.telegram import service as telegram
from hotline.channels.twilio import sms, voice
from hotline.channels.webchat import callback as webchat_callback
from hotline.channels.webchat import case as webcase
from hotline.channels.webchat import chat as webchat
from hotline.channels.webchat import tools as webchat_tools
from hotline.config import Config
from hotline.crypto import Keyring, load_master_key
from hotline.deps import Deps
from hotline.domain import policy
from hotline.domain.event_types import EventType
from hotline.events import Event, Hub
from hotline.evidence import api as evidence_api
from hotline.jobs import JobSet
from hotline.limits import api as bans_api
from hotline.limits import bans
from hotline.logs import ACCESS_LOG_FORMAT, scrub_library_logs
from hotline.prompts import Prompts
from hotline.reports import api as reports_api
from hotline.reports import pages as reports_pages
from hotline.staff import api as staff_api
from hotline.staff import auth, upkeep, wellbeing_api
from hotline.staff import pages as staff_pages
from hotline.staff.guard import guard
from hotline.staff.throttle_store import Throttle
from hotline.stores.live.client import open_client
from hotline.stores.live.embedded import EmbeddedRedis
from hotline.stores.live.keys import Keys
from hotline.stores.sql import checkpoint
from hotline.stores.sql.engine import migrate, open_engine, open_reader
from hotline.takedown import api as takedown_api
from hotline.takedown import pages as takedown_pages
from hotline.takedown.victim import VictimDesk
from hotline.victim import case_takedown, referrals_api
from hotline.web import i18n as console_i18n
from hotline.web import ops
from hotline.web.appkeys import (
    CONFIG,
    DEPS,
    EMBEDDED_REDIS,
    ENGINE,
    HUB,
    KEYRING,
    LOGIN_THROTTLE,
    PROMPTS,
    READER,
    REDIS,
    REDIS_URL,
    STREAMS,
    WORDS,
)
from hotline.web.middleware import errors, security_headers
from hotline.web.remote import RealAddress
from hotline.web.streamgate import StreamGate
from hotline.words import Words

log = logging.getLogger(__name__)

# How long shutdown waits for a periodic job to finish its current pass.
_JOB_GRACE_S = 10.0
# Requests bigger than this are refused with 413 before a handler reads them.
MAX_REQUEST_BYTES = 64 * 1024
_HERE = Path(__file__).resolve().parent


async def _keyring_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    # The key first: one in use that others could read refuses the start (it may have been
    # read); then the folder and all in it become ours only, before anything writes there.
    app[KEYRING] = Keyring.from_master(load_master_key(cfg.data_path, os.environ))
    datadir.make_private(cfg.data_path)
    yield


async def _embedded_redis_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    if cfg.storage.redis_url:
        app[REDIS_URL] = cfg.storage.redis_url
        yield
        return
    server = EmbeddedRedis(cfg.data_path)
    # Started from the main thread: PR_SET_PDEATHSIG follows the thread that forks the child.
    server.start()
    app[REDIS_URL] = server.url
    app[EMBEDDED_REDIS] = livesync.EmbeddedWatch(server)
    log.info("embedded redis started", extra={"pid": server.proc.pid if server.proc else None})
    try:
        yield
    finally:
        server.stop()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    # A restarted or failed-over Redis leaves stale pooled connections: the client retries on
    # a fresh one with a short backoff instead of failing the request that meets them first.
    client = open_client(app[REDIS_URL])
    app[REDIS] = client
    yield
    await client.aclose()


async def _sql_ctx(app: web.Application) -> AsyncIterator[None]:
    url = app[CONFIG].database_url
    checkpointer = checkpoint.for_url(url)
    engine = open_engine(url, background_checkpoint=checkpointer is not None,
                         pool_size=app[CONFIG].storage.sql_pool_size)
    await migrate(engine)
    app[ENGINE] = engine
    reader = open_reader(url)
    app[READER] = reader
    stop = asyncio.Event()
    task = asyncio.create_task(checkpointer.run(stop)) if checkpointer else None
    yield
    stop.set()
    if task is not None:
        await task
    if reader is not None:
        await reader.dispose()
    await engine.dispose()


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    keys = Keys(cfg.storage.redis_prefix)
    redis = app[REDIS]
    deps = Deps(config=cfg, engine=app[ENGINE], redis=redis, keys=keys,
                live=LiveStore(redis, keys, cfg.routing.rules()), keyring=app[KEYRING],
                reader=app[READER])
    app[DEPS] = deps
    app[LOGIN_THROTTLE] = Throttle(redis, cfg.console.login_policy())
    async with deps.engine.begin() as conn:
        await roster.seed(conn, cfg.roster, datetime.now(UTC))
    # Bans hold from the first request on.
    await bans.refresh(deps)
    # A Redis that lost its state is rebuilt from SQL (a lost Redis loses nothing); one that
    # kept it is left to the reconciler, so a rolling restart never undoes a running claim.
    await livesync.at_start(deps)
    yield
    await deps.publisher.drain()


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    hub = Hub(deps.redis, deps.keys)
    await hub.start()
    app[HUB] = hub
    yield
    await hub.stop()


# Events after which the router and the shift-edge job should look again at once.
_ROUTER_WAKERS = frozenset({EventType.QUEUED, EventType.PRESENCE, EventType.CLOSED,
                            EventType.OFFER_DECLINED, EventType.ROSTER,
                            EventType.RESET, EventType.URGENCY, EventType.LANGUAGE})


async def _wake_on_events(hub: Hub, router_wake: asyncio.Event, roster_wake: asyncio.Event,
                          bans_wake: asyncio.Event) -> None:
    async def wake(ev: Event) -> None:
        if ev.get("type") == EventType.BANS:
            # Another instance changed the ban list: reload this one's copy now.
            bans_wake.set()
            return
        router_wake.set()
        if ev.get("type") == EventType.ROSTER:
            roster_wake.set()

    async def wake_all() -> None:
        # Events were missed while this follower lagged: look again at everything.
        for event in (router_wake, roster_wake, bans_wake):
            event.set()

    await hub.follow(lambda ev: ev.get("type") in _ROUTER_WAKERS | {EventType.BANS},
                     wake, wake_all)


async def _jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    job_set = JobSet(grace_s=_JOB_GRACE_S)
    stop, router_wake, roster_wake = job_set.stop, asyncio.Event(), asyncio.Event()
    bans_wake = asyncio.Event()
    jobs: dict[str, Callable[[], Awaitable[None]]] = {
        "reconciler": lambda: livesync.run_reconciler(deps, stop),
        "retention": lambda: retention.run_retention(deps, stop),
        "router": lambda: router.run_router(deps, stop, router_wake),
        "shift-edges": lambda: roster.run_shift_edges(deps, stop, roster_wake),
        "presence": lambda: presence.run_presence(deps, stop),
        "alerts": lambda: alerts.run_alerts(deps, stop),
        "aging": lambda: urgency.run_aging(deps, stop),
        "outbox": lambda: outbox.run_outbox(deps, stop),
        "bans": lambda: bans.run_bans(deps, stop, bans_wake),
        "staff": lambda: upkeep.run_upkeep(deps, stop),
        "abandon": lambda: abandon.run_abandon(deps, app[PROMPTS], stop),
        "wake": lambda: _wake_on_events(app[HUB], router_wake, roster_wake, bans_wake),
        "queue-feed": lambda: queue_feed.run_queue_feed(deps, app[HUB], stop),
        "loop-watch": lambda: loopwatch.run(stop),
    }
    if EMBEDDED_REDIS in app:
        # Started again when it dies; on the loop's (main) thread, as it was first started.
        watch = app[EMBEDDED_REDIS]
        jobs["embedded-redis"] = lambda: watch.run(deps, stop)
    for name, start in jobs.items():
        job_set.start(name, start)
    yield
    # Sends in flight finish with the jobs; replies whose try was cut short stay "pending" and
    # the next start retries them.
    await job_set.close(also=deps.outbox.tasks)


async def _close_streams(app: web.Application) -> None:
    # Event streams never end on their own; close them so shutdown is immediate.
    if HUB in app:
        await app[HUB].stop()


def create_app(config: Config) -> web.Application:
    """Build the aiohttp application for `config` (nothing is opened until it starts)."""
    scrub_library_logs()
    # RealAddress comes before anything that reads request.remote (per-address limits).
    app = web.Application(
        middlewares=[security_headers, errors,
                     RealAddress(config.server.trusted_proxies).middleware, guard],
        handler_args={"access_log_format": ACCESS_LOG_FORMAT},
        client_max_size=MAX_REQUEST_BYTES)
    app[CONFIG] = config
    app[PROMPTS] = Prompts()
    app[STREAMS] = StreamGate(config.streams)
    app[WORDS] = Words()
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(_HERE / "templates"),
                               undefined=jinja2.StrictUndefined, autoescape=True)
    console_i18n.install(env, app[WORDS], config.console.default_language,
                         config.roster.timezone)
    env.globals.update(may=policy.may_named)
    app[aiohttp_jinja2.static_root_key] = "/static"
    app.cleanup_ctx.extend([_keyring_ctx, _embedded_redis_ctx, _redis_ctx, _sql_ctx,
                            _services_ctx, _hub_ctx, _jobs_ctx])
    ops.setup(app)
    app.on_shutdown.append(_close_streams)
    app.router.add_routes(webchat.routes)
    app.router.add_routes(webcase.routes)
    app.router.add_routes(webchat_tools.routes)
    app.router.add_routes(webchat_callback.routes)
    app.router.add_routes(console_pages.routes)
    app.router.add_routes(console_api.routes)
    app.router.add_routes(floor_api.routes)
    app.router.add_routes(roster_api.routes)
    app.router.add_routes(signals_api.routes)
    app.router.add_routes(bans_api.routes)
    app.router.add_routes(referrals_api.routes)
    app.router.add_routes(staff_pages.routes)
    app.router.add_routes(staff_api.routes)
    app.router.add_routes(wellbeing_api.routes)
    sms.setup(app)
    voice.setup(app)
    telegram.setup(app)
    evidence_api.setup(app)
    takedown_api.setup(app)
    # The victim's case page sees and adds to the desk through this (docs/victim.md).
    case_takedown.use(VictimDesk())
    takedown_pages.setup(app)
    reports_api.setup(app)
    reports_pages.setup(app)
    app.router.add_static("/static", _HERE / "static")
    app.router.add_get("/", _root)
    # After every cleanup context has started (on_startup runs those first).
    app.on_startup.append(_warm_up)
    app.on_startup.append(_freeze_heap)
    return app


# Net allocations of tracked objects between collections of the young generation.
GC_YOUNG_THRESHOLD = 20_000


async def _freeze_heap(_app: web.Application) -> None:
    # Everything built at start-up (config, prompts, compiled SQL, PTB) lives for the whole
    # process: moving it out of the collector's generations keeps full collections, and the
    # pauses they cause in request latency, proportional to per-request garbage only.
    gc.collect()
    gc.freeze()
    # The young generation's default threshold (700 net allocations) ran a collection about
    # every 11 SMS webhooks at 50 connections, each walking every in-flight request's young
    # objects: 6-8% of the process's CPU per message (bench/sms_bench.py). Requests free
    # almost all they allocate without cycles, so a larger threshold collects rarely, each
    # collection a few ms at most.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)


async def _warm_up(app: web.Application) -> None:
    # What is made on first use and then lives as long as the process, made here (off the
    # loop, and before the heap is frozen): triage's phrases (0.2-0.3 s), not on a victim's
    # first message; the unknown-name hash (170 ms), so that the first unknown name at login
    # is not slower than the rest.
    triage = app[CONFIG].triage

    def make() -> tuple[object, str]:
        return triage.compiled, auth.dummy_hash()
    await asyncio.get_running_loop().run_in_executor(None, make)


async def _root(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")
