"""Pure-ASGI middleware: request id on every response, HTTP metrics by route template, and the last word on
exceptions no handler took: 503 for an outage of PostgreSQL or Redis, else a logged 500 (both with the id)."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core import metrics
from service.core.faults import unhandled_response
from service.core.logging import request_id_var

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other is "other"


class RequestContextMiddleware:
    """Echo or mint X-Request-ID, bind it to the logs, and record latency per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
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
            _observe(scope, status or 500, time.perf_counter() - started)
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    method = scope.get("method", "") if scope.get("method") in _METHODS else "other"
    metrics.http_requests.labels(template, method, str(status)).inc()
    metrics.http_latency.labels(template, method).observe(seconds)
