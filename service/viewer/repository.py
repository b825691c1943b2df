"""All SQL of the viewer: staff credentials, consented patients, the holder's insured numbers, the access log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from service.core.database import Connection


async def staff_by_login(conn: Connection, login: str) -> asyncpg.Record | None:
    """A staff member with facility details, for login."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT s.id::text AS staff_id, s.login, s.password_hash, s.role, s.facility_code, "
        "  f.type AS facility_type, f.name AS facility_name "
        "FROM staff s JOIN facilities f ON f.code = s.facility_code WHERE s.login = $1",
        login,
    )
    return row


async def live_consents(
    conn: Connection, *, facility_code: str, now: datetime, consent_id: UUID | None = None
) -> list[asyncpg.Record]:
    """Consents live now at a facility (or just one of them), with the patient's name as the check showed it."""
    return list(await conn.fetch(
        "SELECT c.id, c.categories, c.given_at, c.expires_at, "
        "  coalesce(r.name_kanji, h.name_kanji) AS name_kanji, coalesce(r.name_kana, h.name_kana) AS name_kana, "
        "  h.birthdate, coalesce(r.sex, h.sex) AS sex "
        "FROM consents c JOIN holders h ON h.id = c.holder_id "
        # a live consent was given within 5 minutes of its check, at most 24 hours ago: that bounds the partitions
        "JOIN verifications v ON v.id = c.verification_id "
        "  AND v.created_at > $2::timestamptz - interval '1 day 10 minutes' "
        "LEFT JOIN eligibility_records r ON r.id = v.record_version_id "
        "WHERE c.facility_code = $1 AND c.withdrawn_at IS NULL AND c.given_at <= $2 AND c.expires_at > $2 "
        "  AND cardinality(c.categories) > 0 AND ($3::uuid IS NULL OR c.id = $3) "
        "ORDER BY c.given_at DESC",
        facility_code, now, consent_id,
    ))


async def insured_numbers(conn: Connection, holder_id: int) -> list[asyncpg.Record]:
    """Every individual insured number the holder's linked records carry (all insurers, all versions)."""
    return list(await conn.fetch(
        "SELECT DISTINCT r.insurer_number, r.symbol, r.number, r.branch FROM links l "
        "JOIN eligibility_records r ON r.insurer_number = l.insurer_number AND r.record_id = l.record_id "
        "WHERE l.holder_id = $1 AND l.unlinked_at IS NULL",
        holder_id,
    ))


async def log_access(
    conn: Connection, *, holder_id: int, consent_id: UUID, staff_id: str, facility_code: str, role: str,
    category: str, at: datetime,
) -> None:
    """Record a view in the holder's access log."""
    await conn.execute(
        "INSERT INTO access_log (holder_id, consent_id, staff_id, facility_code, role, category, at) "
        "VALUES ($1, $2, $3::uuid, $4, $5, $6, $7)",
        holder_id, consent_id, staff_id, facility_code, role, category, at,
    )


async def card_statuses(conn: Connection, consent_ids: list[UUID]) -> dict[UUID, str]:
    """consent id -> status (active, suspended, revoked) of the card that gave it, followed through renewals
    to the newest certificate (a renewal revokes the old one as superseded; its successor decides)."""
    rows = await conn.fetch(
        "WITH RECURSIVE chain (consent_id, status, replaced_by, depth) AS ("
        "  SELECT c.id, cert.status, cert.replaced_by, 0 FROM consents c "
        "  JOIN verifications v ON v.id = c.verification_id JOIN certificates cert ON cert.serial = v.serial "
        "  WHERE c.id = ANY($1::uuid[]) "
        "  UNION ALL "
        "  SELECT chain.consent_id, cert.status, cert.replaced_by, chain.depth + 1 FROM chain "
        "  JOIN certificates cert ON cert.serial = chain.replaced_by WHERE chain.depth < 16) "
        "SELECT DISTINCT ON (consent_id) consent_id, status FROM chain ORDER BY consent_id, depth DESC",
        consent_ids,
    )
    return {r["consent_id"]: r["status"] for r in rows}
