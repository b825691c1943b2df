"""The agent answers its own pages only: loopback Host, same-origin requests, no CORS headers ever.

A page of another site can still make the browser send a request to 127.0.0.1 (a form post, a `fetch` in
`no-cors` mode): the browser marks it with `Origin: https://other.example` or `Sec-Fetch-Site: cross-site`, and
it is refused here before any handler runs. A DNS-rebinding page names another host in `Host`, and is refused too.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class OriginGuard:
    """ASGI middleware: refuse (403) a request that is not from this agent's own origin."""

    def __init__(self, app: ASGIApp, *, port: int) -> None:
        self.app = app
        self.hosts = frozenset(f"{host}:{port}" for host in LOOPBACK_HOSTS)
        self.origins = frozenset(f"http://{host}" for host in self.hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = self.refusal(scope)
            if reason is not None:
                await _refuse(send, reason)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None when it comes from one of the agent's own pages."""
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if headers.get("host") not in self.hosts:
            return "this agent answers on its loopback address only"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "requests from other sites are refused"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return "requests from other origins are refused"
        if scope["method"] not in _SAFE_METHODS and origin is None:
            return "a state-changing request must come from the agent's own page (Origin header)"
        return None


async def _refuse(send: Send, reason: str) -> None:
    body = json.dumps({"error": "origin_refused", "detail": reason}).encode()
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
