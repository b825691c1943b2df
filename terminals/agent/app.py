"""The agent's application: its two pages, their APIs, the origin guard and the security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from terminals.agent import face as face_api
from terminals.agent import kiosk as kiosk_api
from terminals.agent import portal as portal_api
from terminals.agent.errors import AgentError, agent_error, invalid_input
from terminals.agent.guard import OriginGuard

STATIC = Path(__file__).parent / "static"
_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"x-frame-options", b"DENY"),  # no other page may frame the PIN pad
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # nothing of a patient stays in the browser's cache
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (b"x-content-type-options", b"nosniff"),
]


class SecurityHeaders:
    """ASGI middleware: the same strict headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in _HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def _base(port: int) -> FastAPI:
    app = FastAPI(title="Onshi card agent", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(AgentError, agent_error)
    app.add_exception_handler(RequestValidationError, invalid_input)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(OriginGuard, port=port)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _page(app: FastAPI, name: str) -> None:
    @app.get(f"/{name}/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / f"{name}.html")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"/{name}/")


def kiosk_app(
    kiosk: kiosk_api.Kiosk, *, port: int, reset_seconds: int = 8, face: face_api.FaceDesk | None = None
) -> FastAPI:
    """The reception kiosk on `port`."""
    app = _base(port)
    app.state.kiosk = kiosk
    app.state.face = face or face_api.FaceDesk()
    app.include_router(kiosk_api.router)
    app.include_router(face_api.router)

    @app.get("/api/kiosk/settings")
    def settings() -> dict[str, object]:
        return {"reset_seconds": reset_seconds, "facility_type": kiosk.facility_type}

    _page(app, "kiosk")
    return app


def portal_app(portal: portal_api.Portal, *, port: int) -> FastAPI:
    """The holder portal on `port`."""
    app = _base(port)
    app.state.portal = portal
    app.include_router(portal_api.router)
    _page(app, "portal")
    return app
