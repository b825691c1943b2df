"""Pure-ASGI guard on what reaches the handlers: body size (declared or chunked) and the NUL character.

- Bodies other than those the app names as streamed (batch uploads, which stream to the database under their
  own, larger limit) are read here up to `MAX_BODY_BYTES`, whether the client declared a Content-Length or sent
  chunks: a larger one is 413 before a handler runs, so an unauthenticated client cannot make the server hold
  more than that.
- U+0000 is refused (422) in the path, the query string, JSON bodies (as the `\\u0000` escape or a raw byte)
  and form bodies (`%00`): PostgreSQL text cannot hold it, and no identifier, name or address has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024  # card proofs, consents, logins: small. Batch uploads have their own, larger limit.
# A JSON \u0000 escape is one whose backslash is not itself escaped: preceded by an even number of backslashes.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _never(_scope: Scope) -> bool:
    return False


class InputGuardMiddleware:
    """413 for bodies over the limit, 422 for NUL characters, before any handler or parser runs.

    `streamed(scope)` names the requests whose handler streams the body under a limit of its own: they pass
    with only the URL checked.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES, streamed: Callable[[Scope], bool] = _never
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or _has_nul_escape(scope.get("query_string", b"")):
            await _refuse_nul(scope, receive, send, "the URL")
            return
        if self.streamed(scope):
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_body_bytes:
            await _refuse_too_large(scope, receive, send, self.max_body_bytes)
            return
        body, complete = await read_body(receive, self.max_body_bytes)
        if not complete:
            await _refuse_too_large(scope, receive, send, self.max_body_bytes)
            return
        if _body_has_nul(body, content_type(scope)):
            await _refuse_nul(scope, receive, send, "the body")
            return
        await self.app(scope, replay(body, receive), send)


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole body, or (what was read, False) as soon as it passes the limit."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(parts), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), True


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` whole first, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _declared_length(scope: Scope) -> int:
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else 0


def content_type(scope: Scope) -> bytes:
    """The media type of the body, lower case, without parameters (b"" when none is declared)."""
    return (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()


def _has_nul_escape(data: bytes) -> bool:
    return b"\x00" in data or b"%00" in data


def _body_has_nul(body: bytes, content_type: bytes) -> bool:
    if content_type == b"application/x-www-form-urlencoded":
        return _has_nul_escape(body)
    if content_type == b"application/json" or content_type.endswith(b"+json"):
        return b"\x00" in body or (b"\\u0000" in body and _JSON_NUL.search(body) is not None)
    return False


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str) -> None:
    await JSONResponse({"error": code, "detail": detail}, status_code=status)(scope, receive, send)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send, where: str) -> None:
    await _refuse(scope, receive, send, 422, "invalid_input",
                  f"{where} contains the NUL character (U+0000), which no field may hold")


async def _refuse_too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _refuse(scope, receive, send, 413, "payload_too_large", f"the body is larger than {limit // 1024} KiB")
