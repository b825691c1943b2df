"""Pure-ASGI middleware: request id on every response, HTTP metrics by route template, one access-log line per
request, and the last word on exceptions no handler took: 503 for an outage of PostgreSQL or Redis, else a
logged 500 (both with the id).

The per-request cost is kept to a few microseconds (benchmarks/bench_access_log.py measures it): metric children
are looked up once per (route, method, status) and kept, the access line is one f-string into a buffer."""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core import metrics
from service.core.faults import unhandled_response
from service.core.logging import access, request_id_var

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other is "other"
PRINCIPAL = "onshi.principal"
"""Scope key where authentication notes the kind of caller it accepted (terminal, insurer, operator, claims,
staff); a request without an accepted credential is "anonymous" in the access log."""
ANONYMOUS = "anonymous"


class Traffic:
    """Requests answered in the current whole second of a clock and in the one before (background work gives way
    while the process serves many: service.batches.worker.Pacer)."""

    def __init__(self) -> None:
        self.second, self.this_second, self.last_second = 0, 0, 0

    def count(self, now: float) -> None:
        """One request answered at `now`."""
        second = int(now)
        if second != self.second:
            self.last_second = self.this_second if second == self.second + 1 else 0
            self.second, self.this_second = second, 0
        self.this_second += 1

    def per_second(self, now: float) -> int:
        """Requests answered in the last whole second, or so far in this one if more (0 after a quiet second)."""
        second = int(now)
        if second == self.second:
            return max(self.last_second, self.this_second)
        return self.this_second if second == self.second + 1 else 0


traffic = Traffic()
"""This process's requests (the middleware counts each answer)."""


def requests_per_second() -> int:
    """This process's requests in the last second (Traffic.per_second)."""
    return traffic.per_second(time.monotonic())


def note_principal(scope: Scope, kind: str) -> None:
    """Record the kind of the authenticated caller for the access log (never who it is)."""
    scope[PRINCIPAL] = kind


class RequestContextMiddleware:
    """Echo or mint X-Request-ID, bind it to the logs, and record latency per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or _new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0  # no answer started yet

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status:  # the answer has started: nothing else can be said
                raise
            await unhandled_response(exc)(scope, receive, send_with_id)
        finally:
            _observe(scope, status or 500, time.perf_counter() - started, request_id)
            request_id_var.reset(token)


class _RequestIds:
    """32 hex digits like a UUID's: 64 random bits per process, then a counter. uuid4 reads the kernel's random
    source per call (about 2.5 µs, the dearest part of this middleware); this costs about 0.3 µs. A forked
    worker draws a prefix of its own."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix, self.counter = os.urandom(8).hex(), itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_new_request_id = _RequestIds()


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


_Children = tuple[Any, Any]
_children: dict[tuple[str, str, int], _Children] = {}


def _metric_children(template: str, method: str, status: int) -> _Children:
    """The counter and histogram children of a (route, method, status), made once (labels() locks and hashes)."""
    key = (template, method, status)
    children = _children.get(key)
    if children is None:
        children = (metrics.http_requests.labels(template, method, str(status)),
                    metrics.http_latency.labels(template, method))
        _children[key] = children
    return children


def _observe(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    traffic.count(time.monotonic())
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    method = scope.get("method", "")
    if method not in _METHODS:
        method = "other"
    counter, histogram = _metric_children(template, method, status)
    counter.inc()
    histogram.observe(seconds)
    if access.enabled:
        access.request(method, template, status, seconds, request_id, scope.get(PRINCIPAL, ANONYMOUS))
