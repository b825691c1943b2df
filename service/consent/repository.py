"""All SQL of consent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from service.core.database import Connection


@dataclass(frozen=True, slots=True)
class VerificationRow:
    """What a consent is bound to."""

    id: UUID
    terminal_id: str
    facility_code: str
    holder_id: int
    viewing_allowed: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """A consent."""

    id: UUID
    verification_id: UUID
    holder_id: int
    facility_code: str
    categories: list[str]
    given_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None


_CONSENT = "id, verification_id, holder_id, facility_code, categories, given_at, expires_at, withdrawn_at"


async def verification(conn: Connection, verification_id: UUID) -> VerificationRow | None:
    """A verification (never locked: verifications never change, and consents' unique verification_id makes
    a second consent for one check a no-op)."""
    row = await conn.fetchrow(
        "SELECT id, terminal_id::text, facility_code, holder_id, viewing_allowed, created_at FROM verifications "
        "WHERE id = $1",
        verification_id,
    )
    return None if row is None else VerificationRow(**row)


async def insert_consent(
    conn: Connection, *, verification: VerificationRow, categories: list[str], given_at: datetime,
    expires_at: datetime,
) -> UUID | None:
    """Record a consent; None when the verification has one already."""
    value = await conn.fetchval(
        "INSERT INTO consents (verification_id, holder_id, facility_code, terminal_id, categories, given_at, "
        "expires_at) VALUES ($1, $2, $3, $4::uuid, $5, $6, $7) ON CONFLICT (verification_id) DO NOTHING RETURNING id",
        verification.id, verification.holder_id, verification.facility_code, verification.terminal_id, categories,
        given_at, expires_at,
    )
    return None if value is None else UUID(str(value))


async def get(conn: Connection, consent_id: UUID, *, for_update: bool = False) -> ConsentRow | None:
    """A consent by id."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_CONSENT} FROM consents WHERE id = $1{lock}", consent_id)
    return None if row is None else ConsentRow(**row)


async def withdraw(conn: Connection, consent_id: UUID, at: datetime) -> None:
    """Withdraw a consent (kept, marked)."""
    await conn.execute("UPDATE consents SET withdrawn_at = $2 WHERE id = $1 AND withdrawn_at IS NULL", consent_id, at)
