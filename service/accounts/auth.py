"""Bearer-token authentication as FastAPI dependencies, one alias per kind of caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.accounts import repository as repo
from service.accounts.errors import InsurerNotFound
from service.core.database import DB
from service.core.errors import Forbidden, Unauthorized
from service.core.security import Principal, TokenKind, hash_token


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def authenticate(request: Request, conn: DB) -> Principal:
    """Whoever the bearer token names; 401 when it is missing, unknown or revoked.

    It reads through the request's own connection: taking a second one from the pool while holding the first
    would deadlock the pool under load.
    """
    row = await repo.find_token(conn, hash_token(_bearer(request)))
    if row is None:
        raise Unauthorized("invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    kind: TokenKind = row.kind  # type: ignore[assignment]
    return Principal(
        kind=kind, token_id=row.id, terminal_id=row.terminal_id, facility_code=row.facility_code,
        insurer_number=row.insurer_number, claims_processor_id=row.claims_processor_id,
    )


def _require(kind: TokenKind) -> object:
    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.kind != kind:
            raise Forbidden(f"this endpoint needs a {kind} credential")
        return principal

    return Depends(dependency)


TerminalAuth = Annotated[Principal, _require("terminal")]
InsurerAuth = Annotated[Principal, _require("insurer")]
OperatorAuth = Annotated[Principal, _require("operator")]
ClaimsAuth = Annotated[Principal, _require("claims")]


def require_own_insurer(principal: Principal, insurer_number: str) -> None:
    """404 (never 403) when an insurer asks about another insurer's resources."""
    if principal.insurer_number != insurer_number:
        raise InsurerNotFound(f"no insurer {insurer_number} for this credential")
