"""All SQL of the FHIR views that no other domain already reads: a verification with the record it found."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.core.database import Connection


async def verification(conn: Connection, verification_id: UUID) -> asyncpg.Record | None:
    """A verification, its terminal and facility, and the eligibility record version it answered with."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT v.id::text AS verification_id, v.terminal_id::text AS terminal_id, v.facility_code, v.serial, "
        "  v.result, v.validity_code, v.viewing_allowed, v.as_of, v.created_at, v.record_version_id, "
        "  r.insurer_number, r.symbol, r.number, r.branch, r.holder_kind, r.name_kanji, r.name_kana, r.birthdate, "
        "  r.sex, r.qualified_on, r.disqualified_on, r.copay_ratio, r.limit_category, i.name AS insurer_name "
        "FROM verifications v LEFT JOIN eligibility_records r ON r.id = v.record_version_id "
        "LEFT JOIN insurers i ON i.number = r.insurer_number WHERE v.id = $1",
        verification_id,
    )
    return row
