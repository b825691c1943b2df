"""Every handler authenticates before it takes a pooled connection.

A bearer-token lookup that misses the token cache reads with a connection of its own; if the handler held its
request connection already, a burst of such requests could hold every pooled connection while each waits for
another (the pool would deadlock until timeouts). FastAPI resolves dependencies in parameter order, depth first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.accounts.auth import AUTHENTICATING
from service.core.deps import transaction


def resolution_order(dependant: Dependant) -> list[Callable[..., Any]]:
    """The dependency calls in the order FastAPI makes them (sub-dependencies first)."""
    order: list[Callable[..., Any]] = []
    for sub in dependant.dependencies:
        order += resolution_order(sub)
        if sub.call is not None:
            order.append(sub.call)
    return order


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, inside included routers too."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def test_every_route_authenticates_before_it_takes_a_connection(app: FastAPI) -> None:
    checked = 0
    for route in api_routes(app.routes):
        order = resolution_order(route.dependant)
        if transaction not in order or not AUTHENTICATING & set(order):
            continue
        first_auth = min(order.index(call) for call in AUTHENTICATING if call in order)
        assert first_auth < order.index(transaction), f"{route.methods} {route.path} takes DB before auth"
        checked += 1
    assert checked >= 15  # every bearer-token route with a transaction (a refactoring that hides them fails here)
