"""Logs on stderr: JSON in production, human-readable console lines elsewhere, the request id on every line.

Two paths, because their costs differ:

- Events (start-up, batches, errors with tracebacks) go through stdlib logging and structlog's processors, one
  renderer for every line: `structlog.processors.JSONRenderer` or `structlog.dev.ConsoleRenderer`.
- The access log (one line per request: method, route template, status, duration, request id, principal kind)
  is on the hot path, so it skips both: `AccessLog.request` formats the line with one f-string (every field is
  bounded and needs no escaping: a method from a fixed set, a route template from the code, the request id
  checked by the middleware, the principal kind from a fixed set) and appends it to a buffer that a thread writes
  out every `FLUSH_SECONDS` (0.2 s), when it holds `MAX_BUFFERED` lines, and at shutdown (the lifespan's end and
  atexit). No write system call per request. What a crash may lose: a SIGKILL or a fatal error of the
  interpreter loses at most the last 0.2 s of access lines (never an event line: those are written at once).

Never log names, photos, keys, tokens, card serials or query strings: the access line has the route *template*
(`/v1/viewer/consents/{consent_id}/medications`), never the path that was asked for.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from contextvars import ContextVar
from typing import Literal, TextIO

import structlog

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
LogFormat = Literal["console", "json"]
ACCESS_LOGGER = "onshi.access"
FLUSH_SECONDS = 0.2
MAX_BUFFERED = 2000


def _add_request_id(_logger: object, _method: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    if (request_id := request_id_var.get()) is not None:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(*, level: str = "INFO", log_format: LogFormat = "json", access_log: bool = True,
                      json_output: bool | None = None, stream: TextIO | None = None) -> AccessLog:
    """Route stdlib and structlog records through one renderer on stderr; set up the access log.

    `json_output` is the older spelling of `log_format` (True is "json", False "console").
    """
    if json_output is not None:
        log_format = "json" if json_output else "console"
    out = stream or sys.stderr
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,  # the traceback as text in "exception", not just the error's repr
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # the access log below replaces uvicorn's
    access.configure(stream=out, log_format=log_format, enabled=access_log)
    return access


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


class AccessLog:
    """One line per request, buffered and written by a thread (see the module docstring for why and the cost)."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()  # one writer at a time: the thread, a full buffer, shutdown
        self._stream: TextIO = sys.stderr
        self._json = True
        self.enabled = False
        self._thread: threading.Thread | None = None
        self._second = -1
        self._stamp = ""

    def configure(self, *, stream: TextIO, log_format: LogFormat, enabled: bool) -> None:
        """Where and how lines are written; starts the flushing thread once."""
        self.flush()
        self._stream, self._json, self.enabled = stream, log_format == "json", enabled
        if enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="onshi-access-log", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    def request(self, method: str, route: str, status: int, seconds: float, request_id: str, principal: str) -> None:
        """Record one answered request (a few microseconds: a clock read, one f-string, a deque append)."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = int((now - second) * 1000)
        if self._json:
            line = (f'{{"timestamp":"{self._stamp}.{millis:03d}Z","level":"info","logger":"{ACCESS_LOGGER}",'
                    f'"event":"request","method":"{method}","route":"{route}","status":{status},'
                    f'"duration_ms":{seconds * 1000:.2f},"request_id":"{request_id}","principal":"{principal}"}}\n')
        else:
            line = (f"{self._stamp}.{millis:03d}Z [info     ] {method} {route} {status} {seconds * 1000:.1f} ms "
                    f"principal={principal} request_id={request_id} [{ACCESS_LOGGER}]\n")
        self._lines.append(line)
        if len(self._lines) >= MAX_BUFFERED:
            self._wake.set()

    def flush(self) -> None:
        """Write out every buffered line (the thread, a full buffer, and shutdown call this)."""
        with self._write_lock:
            count = len(self._lines)
            if not count:
                return
            chunk = "".join([self._lines.popleft() for _ in range(count)])
            try:
                self._stream.write(chunk)
                self._stream.flush()
            except (OSError, ValueError):  # a closed or broken stream: the lines are lost, the service goes on
                pass

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()


access = AccessLog()
"""The process's access log (the middleware writes to it; `configure_logging` sets it up)."""
