"""A direct lane for the two requests of every reception check, beside FastAPI, answering exactly as it would.

For each request FastAPI matches its router, solves the dependencies, parses the body to Python objects and
validates those, calls the route, validates the returned model again and serializes it. The challenge and the
verification are most of the service's traffic (docs/scaling.md), so this pure-ASGI layer, inside the request-id
and input-guard middleware, serves them itself with the route's own models and code:

- the body is validated from its bytes by the route's pydantic model (`model_validate_json`);
- the handler is the route's own function, given the same dependency the route declares;
- the answer is the returned model's JSON with the route's status code, as FastAPI sends it.

Whatever is not the usual case goes to FastAPI unchanged, so that its answers stay FastAPI's own: another method or
path, a body that is not declared as JSON, and a body that does not validate (replayed to the route, which answers
its 422 as always). An exception the handler raises is rendered by the app's own exception handlers, looked up as
Starlette does (by the exception's class hierarchy); any other goes up to the request-id middleware (500 or 503).
The routes stay declared in FastAPI (OpenAPI, and `ONSHI_DIRECT_LANE=false` serves them there): the lane's tests
send the same requests both ways and compare the answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from service.core.inputguard import MAX_BODY_BYTES, content_type, read_body, replay

Handler = Callable[[Request, Any], Awaitable[BaseModel]]


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """A POST route the lane serves: its path, body model, handler and success status (as declared in FastAPI)."""

    path: str
    body: type[BaseModel]
    handler: Handler
    status_code: int = 200


class DirectLane:
    """Serve the given POST routes directly; pass everything else to the app."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[DirectRoute]) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes}
        self._declared: dict[str, BaseRoute | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST" or content_type(scope) != b"application/json":
            await self.app(scope, receive, send)
            return
        body, _ = await read_body(receive, MAX_BODY_BYTES)  # the input guard has read it whole: this is its replay
        try:
            model = route.body.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replay(body, receive), send)  # FastAPI's own 422, as without the lane
            return
        scope["route"] = self._declared_route(scope, route.path)  # the metrics' and access log's template
        request = Request(scope, receive)
        try:
            result = await route.handler(request, model)
        except Exception as exc:
            response = await _handled(request, exc)
        else:
            response = Response(result.__pydantic_serializer__.to_json(result), status_code=route.status_code,
                                media_type="application/json")
        await response(scope, receive, send)

    def _declared_route(self, scope: Scope, path: str) -> BaseRoute | None:
        if path not in self._declared:
            self._declared[path] = next((r for r in _routes(scope["app"].routes) if getattr(r, "path", None) == path
                                         and "POST" in (getattr(r, "methods", None) or ())), None)
        return self._declared[path]


def _routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too (FastAPI keeps an included router whole, as `original_router`)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to an exception, by its exception handlers (the first class of the exception's MRO that
    has one, as Starlette's ExceptionMiddleware looks them up); re-raised when none takes it."""
    handlers: dict[Any, Callable[..., Any]] = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            assert isinstance(response, Response)
            return response
    raise exc
