"""All SQL of reception: the card's certificate and holder state, linked records, verifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from service.verification.eligibility import Coverage


@dataclass(frozen=True, slots=True)
class CardState:
    """What the authority and the registrations say about a certificate and its holder."""

    serial: str
    holder_id: int
    status: str
    status_reason: str | None
    not_before: datetime
    not_after: datetime
    registered: bool
    ambiguous: bool


async def card_state(conn: asyncpg.Connection, serial: str) -> CardState | None:
    """The certificate's state, whether its holder is registered, and whether an ambiguity is open."""
    row = await conn.fetchrow(
        "SELECT c.serial, c.holder_id, c.status, c.status_reason, c.not_before, c.not_after, "
        "  EXISTS (SELECT 1 FROM registrations g WHERE g.holder_id = c.holder_id AND g.unregistered_at IS NULL), "
        "  EXISTS (SELECT 1 FROM link_reviews r WHERE r.holder_id = c.holder_id AND r.reason = 'ambiguous' "
        "          AND r.resolved_at IS NULL) "
        "FROM certificates c WHERE c.serial = $1",
        serial,
    )
    return None if row is None else CardState(*row.values())


async def linked_coverages(conn: asyncpg.Connection, holder_id: int) -> list[Coverage]:
    """Current versions of the holder's linked records."""
    rows = await conn.fetch(
        "SELECT r.id, r.insurer_number, r.symbol, r.number, r.branch, r.holder_kind, r.name_kanji, r.name_kana, "
        "  r.birthdate, r.sex, r.qualified_on, r.disqualified_on, r.copay_ratio, r.limit_category "
        "FROM links l JOIN eligibility_records r ON r.insurer_number = l.insurer_number "
        "  AND r.record_id = l.record_id AND r.is_current "
        "WHERE l.holder_id = $1 AND l.unlinked_at IS NULL",
        holder_id,
    )
    return [Coverage(*row.values()) for row in rows]


@dataclass(frozen=True, slots=True)
class NewVerification:
    """A verification to record."""

    terminal_id: str
    facility_code: str
    serial: str
    holder_id: int
    result: str
    validity_code: int | None
    record_version_id: int | None
    viewing_allowed: bool
    presence_method: str
    face_distance: float | None
    liveness_passed: bool | None
    as_of: date
    created_at: datetime


async def insert_verification(conn: asyncpg.Connection, v: NewVerification) -> UUID:
    """Record a verification; returns its id."""
    value = await conn.fetchval(
        "INSERT INTO verifications (terminal_id, facility_code, serial, holder_id, result, validity_code, "
        "record_version_id, viewing_allowed, presence_method, face_distance, liveness_passed, as_of, created_at) "
        "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        v.terminal_id, v.facility_code, v.serial, v.holder_id, v.result, v.validity_code, v.record_version_id,
        v.viewing_allowed, v.presence_method, v.face_distance, v.liveness_passed, v.as_of, v.created_at,
    )
    return UUID(str(value))


async def access_log(conn: asyncpg.Connection, holder_id: int) -> list[asyncpg.Record]:
    """Every view of a holder's data, newest first, with the facility's name."""
    return list(await conn.fetch(
        "SELECT a.at, a.facility_code, f.name AS facility_name, a.role, a.category FROM access_log a "
        "JOIN facilities f ON f.code = a.facility_code WHERE a.holder_id = $1 ORDER BY a.at DESC, a.id DESC",
        holder_id,
    ))
