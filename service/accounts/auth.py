"""Bearer-token authentication as FastAPI dependencies, one alias per kind of caller.

Tokens resolve through a short-lived in-process cache (`TOKEN_CACHE_SECONDS`, default 5 s): a terminal's
challenge and its verification, a few seconds apart, cost one lookup, and a revoked token stops working on every
instance within that many seconds. A lookup that misses reads with a connection of its own, briefly: declare the
auth dependency before `DB` in a handler (tests/core/test_dependencies.py checks every route), so that a request
never holds one pooled connection while it waits for another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from service.accounts import repository as repo
from service.accounts.errors import InsurerNotFound
from service.core.deps import get_pool
from service.core.errors import Forbidden, Unauthorized
from service.core.middleware import note_principal
from service.core.security import Principal, TerminalPrincipal, TokenKind, hash_token

CACHE_LIMIT = 50_000  # distinct live tokens remembered per process; the cache empties when it is full


class TokenCache:
    """token hash -> Principal, each entry trusted for `seconds` after it was read from the database."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, token_hash: bytes) -> Principal | None:
        """The cached principal, while it is fresh."""
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token_hash: bytes, principal: Principal) -> None:
        """Remember a principal read just now (unknown and revoked tokens are never cached)."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= CACHE_LIMIT:
            self._entries.clear()
        self._entries[token_hash] = (time.monotonic() + self.seconds, principal)

    def clear(self) -> None:
        """Forget everything (tests, and after a revocation in this process)."""
        self._entries.clear()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def _lookup(pool: asyncpg.Pool, token_hash: bytes) -> Principal | None:
    row = await repo.find_token(pool, token_hash)
    if row is None:
        return None
    kind: TokenKind = row.kind  # type: ignore[assignment]
    return Principal(
        kind=kind, token_id=row.id, terminal_id=row.terminal_id, facility_code=row.facility_code,
        insurer_number=row.insurer_number, claims_processor_id=row.claims_processor_id,
    )


# Dependencies that authenticate the caller; tests/core/test_dependencies.py checks that every route resolves one
# of them before it takes a pooled connection.
AUTHENTICATING: set[Callable[..., Any]] = set()


def authenticates(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a dependency as one that authenticates its caller (see AUTHENTICATING)."""
    AUTHENTICATING.add(dependency)
    return dependency


async def authenticate(request: Request) -> Principal:
    """Whoever the bearer token names; 401 when it is missing, unknown or revoked."""
    token_hash = hash_token(_bearer(request))
    cache: TokenCache = request.app.state.token_cache
    principal = cache.get(token_hash)
    if principal is None:
        principal = await _lookup(get_pool(request), token_hash)
        if principal is None:
            raise Unauthorized("invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        cache.put(token_hash, principal)
    note_principal(request.scope, principal.kind)
    return principal


async def authenticate_as(request: Request, kind: TokenKind) -> Principal:
    """The caller, who must hold a token of this kind (403 otherwise)."""
    principal = await authenticate(request)
    if principal.kind != kind:
        raise Forbidden(f"this endpoint needs a {kind} credential")
    return principal


@authenticates
async def authenticate_terminal(request: Request) -> TerminalPrincipal:
    """The calling reception terminal (401 without a credential, 403 for another kind of credential)."""
    terminal = (await authenticate(request)).as_terminal()
    if terminal is None:
        raise Forbidden("this endpoint needs a terminal credential")
    return terminal


def _require(kind: TokenKind) -> object:
    # One dependency, not one per level: FastAPI spends about as much on resolving a dependency as on a request.
    @authenticates
    async def dependency(request: Request) -> Principal:
        return await authenticate_as(request, kind)

    return Depends(dependency)


TerminalAuth = Annotated[TerminalPrincipal, Depends(authenticate_terminal)]
InsurerAuth = Annotated[Principal, _require("insurer")]
OperatorAuth = Annotated[Principal, _require("operator")]
ClaimsAuth = Annotated[Principal, _require("claims")]


def require_own_insurer(principal: Principal, insurer_number: str) -> None:
    """404 (never 403) when an insurer asks about another insurer's resources."""
    if principal.insurer_number != insurer_number:
        raise InsurerNotFound(f"no insurer {insurer_number} for this credential")
