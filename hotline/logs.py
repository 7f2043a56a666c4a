"""Structured logs: one JSON object a line, with ids only.

Call sites pass ids and enumerations in `extra`; the formatter drops any extra field whose name
suggests personal data, as a second line of defence. See docs/privacy.md.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from aiohttp.http_exceptions import HttpProcessingError

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Field names that must never reach a log line, whatever a call site passes.
_FORBIDDEN = ("phone", "number", "address", "text", "body", "name", "username", "from",
              "to", "chat_id", "user_id", "contact", "password", "token")


def _kept(key: str) -> bool:
    return not (key in _STANDARD or key.startswith("_")
                or any(f in key.lower() for f in _FORBIDDEN))


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        # Whether a record attribute goes into the line, decided once per name: call sites use
        # a few dozen names, and checking each against every forbidden word was a third of
        # the formatting time of an access line.
        self._kept: dict[str, bool] = {}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        kept = self._kept
        for key, value in vars(record).items():
            keep = kept.get(key)
            if keep is None:
                keep = kept[key] = _kept(key)
            if keep:
                out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info and record.exc_info[1] is not None:
            out["exc"] = where_not_what(record.exc_info[1])
        return json.dumps(out, ensure_ascii=False)


def error_place(error: BaseException, depth: int = 1) -> str:
    """Where an exception was raised: its innermost `depth` frames as "file.py:line",
    innermost first ("" when it has no traceback). Where, not what."""
    frames = traceback.extract_tb(error.__traceback__)[-depth:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))


def where_not_what(error: BaseException) -> str:
    """An exception as its types and the frames it passed through, never its text: a
    provider's or a driver's error message can quote a phone number, an address or a row
    (the project's rule for logs is "where, not what"). Chained causes are listed the same
    way, innermost last."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        trail = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                           for f in reversed(frames[-8:]))
        parts.append(f"{type(current).__name__} at {trail}" if trail
                     else type(current).__name__)
        current = current.__cause__ or current.__context__
    return " | caused by ".join(parts)


# No client address in access logs: for a victim, an IP address is identifying. Set on the
# application itself (create_app), so every way of serving it uses it.
ACCESS_LOG_FORMAT = '"%r" %s %b %Tf'
# aiohttp's loggers other than the access log (which ACCESS_LOG_FORMAT governs), and
# aiohttp-remotes' (hotline/web/remote.py).
LIBRARY_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.internal", "aiohttp.websocket",
                   "aiohttp.client", "aiohttp_remotes")
_FORMAT_SPEC = re.compile(r"%[-#0 +]*[0-9*]*(?:\.[0-9*]+)?[a-zA-Z]")


class LibraryScrub(logging.Filter):
    """A library's record keeps its words and its error's type and place, never its
    arguments, its extra fields or the error's text. aiohttp's "Error handling request from
    %s" named the client's address, the parser's error quoted the first bytes of an oversized
    header (a chat cookie) in its message and traceback, and aiohttp-remotes passes the
    forwarded addresses as extra fields. A request refused as the client's error (one the
    HTTP parser or aiohttp-remotes refused, answered 400) is logged at INFO, not ERROR: any
    client could fill the log with ERROR lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("aiohttp_remotes") or (
                isinstance(error, HttpProcessingError) and 400 <= error.code < 500):
            record.levelno, record.levelname = logging.INFO, "INFO"
        if record.args:
            record.msg = _FORMAT_SPEC.sub("-", str(record.msg))
            record.args = None
        for key in [k for k in vars(record) if k not in _STANDARD and not k.startswith("_")]:
            delattr(record, key)
        if error is not None:
            record.error = type(error).__name__
            if place := error_place(error):
                record.where = place
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        # Lowered below the logger's level: dropped, as if logged at that level.
        return logging.getLogger(record.name).isEnabledFor(record.levelno)


def scrub_library_logs() -> None:
    """Put LibraryScrub on every aiohttp logger (once; a logger's filters see only its own
    records, before any handler, so captured and written lines alike are scrubbed)."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LibraryScrub) for f in logger.filters):
            logger.addFilter(LibraryScrub())


class _QueueRecords(logging.handlers.QueueHandler):
    """Hands the record itself to the writer thread: QueueHandler.prepare would format it
    here, on the event loop, and drop its exception."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


class _BatchedStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record without flushing; the writer thread flushes once the queue is empty,
    so a burst of lines costs one write, not one system call a line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)


class _Writer(logging.handlers.QueueListener):
    """The writer thread: formats and writes what is queued, flushing when it catches up, at
    most once per `_GATHER_S`."""

    handler: _BatchedStream

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord | None],
                 handler: _BatchedStream) -> None:
        super().__init__(records, handler)
        self.handler = handler

    def _monitor(self) -> None:
        records = cast("queue.SimpleQueue[logging.LogRecord | None]", self.queue)
        while True:
            record = records.get()
            while record is not None:
                self.handler.handle(record)
                try:
                    record = records.get_nowait()
                except queue.Empty:
                    break
            self.handler.flush()
            if record is None:  # stop()
                return
            # Then let lines gather for a moment: woken for every line, the thread's wake-ups
            # and its turns of the GIL cost the loop's thread more than the line itself.
            time.sleep(_GATHER_S)


_LISTENER: _Writer | None = None
# How long the writer thread lets lines gather after writing some (lines reach the log at most
# this much later).
_GATHER_S = 0.05


def setup_logging(level: str = "INFO") -> None:
    """Send every logger to stderr as JSON lines, formatted and written by a thread of its
    own: the caller (the event loop) only queues the record. Formatting a line as JSON and
    writing it to stderr cost the loop about 30 us a line, two lines an inbound message."""
    global _LISTENER
    if _LISTENER is not None:
        _LISTENER.stop()
    handler = _BatchedStream(sys.stderr)
    handler.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
    _LISTENER = _Writer(records, handler)
    _LISTENER.start()
    atexit.register(stop_logging)
    root = logging.getLogger()
    root.handlers[:] = [_QueueRecords(records)]
    root.setLevel(level.upper())


def stop_logging() -> None:
    """Write what is queued and stop the writer thread (at exit)."""
    global _LISTENER
    if _LISTENER is not None:
        _LISTENER.stop()
        _LISTENER = None
