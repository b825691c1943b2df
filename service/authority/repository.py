"""All SQL of the authority domain: holders' identity attributes and their certificates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from service.core.database import Connection


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """A certificate as the authority records it."""

    serial: str
    holder_id: int
    issuer: str
    not_before: datetime
    not_after: datetime
    status: str
    status_reason: str | None
    replaced_by: str | None


@dataclass(frozen=True, slots=True)
class HolderRow:
    """A holder's identity attributes (never shown outside the authority and matching evidence)."""

    id: int
    name_kanji: str
    name_kana: str
    birthdate: date
    sex: int
    address: str


_CERT_COLUMNS = "serial, holder_id, issuer, not_before, not_after, status, status_reason, replaced_by"
_HOLDER_COLUMNS = "id, name_kanji, name_kana, birthdate, sex, address"


async def insert_holder(
    conn: Connection, *, name_kanji: str, name_kana: str, birthdate: date, sex: int, address: str,
    norm_kanji: str, norm_kana: str, norm_address: str,
) -> int:
    """A new holder; returns its id."""
    value = await conn.fetchval(
        "INSERT INTO holders (name_kanji, name_kana, birthdate, sex, address, norm_kanji, norm_kana, norm_address) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        name_kanji, name_kana, birthdate, sex, address, norm_kanji, norm_kana, norm_address,
    )
    return int(value)


async def insert_certificate(
    conn: Connection, *, serial: str, holder_id: int, issuer: str, not_before: datetime,
    not_after: datetime, der: bytes,
) -> bool:
    """Record an issued certificate; False when the serial is known already."""
    value = await conn.fetchval(
        "INSERT INTO certificates (serial, holder_id, issuer, not_before, not_after, der) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (serial) DO NOTHING RETURNING serial",
        serial, holder_id, issuer, not_before, not_after, der,
    )
    return value is not None


async def insert_event(conn: Connection, *, serial: str, action: str, reason: str | None, actor: str) -> None:
    """Append to a certificate's history."""
    await conn.execute(
        "INSERT INTO certificate_events (serial, action, reason, actor) VALUES ($1, $2, $3, $4)",
        serial, action, reason, actor,
    )


async def get_certificate(conn: Connection, serial: str, *, for_update: bool = False) -> CertificateRow | None:
    """A certificate by serial (optionally locked for a status change)."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_CERT_COLUMNS} FROM certificates WHERE serial = $1{lock}", serial)
    return None if row is None else CertificateRow(**row)


async def get_holder(conn: Connection, holder_id: int) -> HolderRow | None:
    """A holder's identity attributes."""
    row = await conn.fetchrow(f"SELECT {_HOLDER_COLUMNS} FROM holders WHERE id = $1", holder_id)
    return None if row is None else HolderRow(**row)


async def set_status(
    conn: Connection, *, serial: str, status: str, reason: str | None, replaced_by: str | None = None
) -> None:
    """Change a certificate's status (the caller holds the row lock)."""
    await conn.execute(
        "UPDATE certificates SET status = $2, status_reason = $3, status_changed_at = now(), "
        "replaced_by = coalesce($4, replaced_by) WHERE serial = $1",
        serial, status, reason, replaced_by,
    )


async def history(conn: Connection, serial: str) -> list[dict[str, object]]:
    """A certificate's events, oldest first."""
    rows = await conn.fetch(
        "SELECT action, reason, actor, at FROM certificate_events WHERE serial = $1 ORDER BY id", serial
    )
    return [dict(r.items()) for r in rows]


async def count_admin_action(conn: Connection, action: str) -> None:
    """Count one certificate action of the admin command, in its transaction (migration 0008 says why)."""
    await conn.execute(
        """INSERT INTO admin_certificate_action_counts (action, count) VALUES ($1, 1)
           ON CONFLICT (action) DO UPDATE SET count = admin_certificate_action_counts.count + 1""",
        action,
    )


async def admin_action_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """The admin command's certificate actions so far, by action."""
    rows = await pool.fetch("SELECT action, count FROM admin_certificate_action_counts")
    return {row["action"]: int(row["count"]) for row in rows}
