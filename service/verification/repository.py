"""All SQL of reception: the card's certificate and holder state, linked records, verifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from service.audit.repository import APPEND_CTE, MissingShardHead
from service.audit.service import Entry
from service.core.database import Connection
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


_CARD_STATE = (
    "c.serial, c.holder_id, c.status, c.status_reason, c.not_before, c.not_after, "
    "EXISTS (SELECT 1 FROM registrations g WHERE g.holder_id = c.holder_id AND g.unregistered_at IS NULL) "
    "  AS registered, "
    "EXISTS (SELECT 1 FROM link_reviews r WHERE r.holder_id = c.holder_id AND r.reason = 'ambiguous' "
    "        AND r.resolved_at IS NULL) AS ambiguous"
)
_COVERAGE = (
    "r.id AS version_id, r.insurer_number, r.symbol, r.number, r.branch, r.holder_kind, r.name_kanji, "
    "r.name_kana, r.birthdate, r.sex, r.qualified_on, r.disqualified_on, r.copay_ratio, r.limit_category"
)
_STATE_FIELDS = tuple(CardState.__dataclass_fields__)
_COVERAGE_FIELDS = tuple(Coverage.__dataclass_fields__)


def _state(row: asyncpg.Record) -> CardState:
    return CardState(**{name: row[name] for name in _STATE_FIELDS})


def _coverage(row: asyncpg.Record) -> Coverage:
    return Coverage(**{name: row[name] for name in _COVERAGE_FIELDS})


async def card_state(conn: Connection, serial: str) -> CardState | None:
    """The certificate's state, whether its holder is registered, and whether an ambiguity is open."""
    row = await conn.fetchrow(f"SELECT {_CARD_STATE} FROM certificates c WHERE c.serial = $1", serial)
    return None if row is None else _state(row)


async def linked_coverages(conn: Connection, holder_id: int) -> list[Coverage]:
    """Current versions of the holder's linked records."""
    rows = await conn.fetch(
        f"SELECT {_COVERAGE} FROM linked_current_records r WHERE r.holder_id = $1",
        holder_id,
    )
    return [_coverage(row) for row in rows]


@dataclass(frozen=True, slots=True)
class CardForCheck:
    """A card's state, its holder's current linked records, and whether the presented certificate is the one
    the authority checked and stored when it recorded this serial (byte for byte)."""

    state: CardState
    coverages: list[Coverage]
    issued_as_presented: bool


async def card_for_check(conn: Connection, serial: str, der: bytes) -> CardForCheck | None:
    """The card's state and the current versions of its holder's linked records, in one round trip."""
    rows = await conn.fetch(
        f"SELECT {_CARD_STATE}, c.der = $2 AS issued_as_presented, {_COVERAGE} FROM certificates c "
        "LEFT JOIN linked_current_records r ON r.holder_id = c.holder_id WHERE c.serial = $1",
        serial, der,
    )
    if not rows:
        return None
    return CardForCheck(state=_state(rows[0]), issued_as_presented=rows[0]["issued_as_presented"],
                        coverages=[_coverage(row) for row in rows if row["version_id"] is not None])


@dataclass(frozen=True, slots=True)
class NewVerification:
    """A verification to record."""

    id: UUID
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


# The verification is inserted from the audit entry's row: both are written by one statement, or neither.
_INSERT_AUDITED = f"""WITH {APPEND_CTE}
INSERT INTO verifications (id, terminal_id, facility_code, serial, holder_id, result, validity_code,
    record_version_id, viewing_allowed, presence_method, face_distance, liveness_passed, as_of, created_at)
SELECT $4, $5::uuid, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $3 FROM appended"""


async def insert_verification(conn: Connection, v: NewVerification, audit: Entry) -> None:
    """Record a verification and its audit entry (created at the entry's time) in one statement."""
    status = await conn.execute(
        _INSERT_AUDITED, *audit.params(), v.id, v.terminal_id, v.facility_code, v.serial, v.holder_id, v.result,
        v.validity_code, v.record_version_id, v.viewing_allowed, v.presence_method, v.face_distance,
        v.liveness_passed, v.as_of,
    )
    if status != "INSERT 0 1":
        raise MissingShardHead(f"audit shard {audit.shard} has no head row: the verification was not recorded")


async def access_log(conn: Connection, holder_id: int) -> list[asyncpg.Record]:
    """Every view of a holder's data, newest first, with the facility's name."""
    return list(await conn.fetch(
        "SELECT a.at, a.facility_code, f.name AS facility_name, a.role, a.category FROM access_log a "
        "JOIN facilities f ON f.code = a.facility_code WHERE a.holder_id = $1 ORDER BY a.at DESC, a.id DESC",
        holder_id,
    ))
