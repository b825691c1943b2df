"""All SQL of eligibility records: staging a step, superseding changed records, inserting new versions."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from service.core.database import Connection

INSURER_LOCK_NAMESPACE = 7302  # one batch step at a time per insurer: versions are numbered without gaps or races

STAGE_COLUMNS = (
    "batch_row", "record_id", "action", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana",
    "birthdate", "sex", "address", "postal_code", "qualified_on", "disqualified_on", "copay_ratio",
    "limit_category", "norm_kanji", "norm_kana", "norm_address",
)
_DATA = (
    "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana", "birthdate", "sex", "address",
    "postal_code", "qualified_on", "disqualified_on", "copay_ratio", "limit_category", "norm_kanji", "norm_kana",
    "norm_address",
)
_DIFFERS = "(" + ", ".join(f"e.{c}" for c in _DATA) + ") IS DISTINCT FROM (" + ", ".join(f"s.{c}" for c in _DATA) + ")"
_NEW_VALUES = ", ".join(
    f"s.{c}" if c == "disqualified_on" else f"CASE WHEN s.action = 'terminate' THEN p.{c} ELSE s.{c} END"
    for c in _DATA
)


async def lock_insurer(conn: Connection, insurer_number: str) -> None:
    """Serialise record changes of one insurer (held until the step commits)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", INSURER_LOCK_NAMESPACE, insurer_number)


async def stage(conn: Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """COPY a step's rows into a transaction-local staging table."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS eligibility_stage (batch_row int, record_id text, action text, "
        "symbol text, number text, branch text, holder_kind smallint, name_kanji text, name_kana text, "
        "birthdate date, sex smallint, address text, postal_code text, qualified_on date, disqualified_on date, "
        "copay_ratio smallint, limit_category text, norm_kanji text, norm_kana text, norm_address text) "
        "ON COMMIT DELETE ROWS"
    )
    await conn.execute("TRUNCATE eligibility_stage")
    await conn.copy_records_to_table("eligibility_stage", columns=STAGE_COLUMNS, records=rows)


async def reject_bad_terminations(conn: Connection, insurer_number: str) -> list[tuple[int, str]]:
    """Remove terminate rows with no current record or a 資格喪失日 not after the 資格取得日; return them."""
    rows = await conn.fetch(
        "DELETE FROM eligibility_stage s WHERE s.action = 'terminate' AND NOT EXISTS ("
        "  SELECT 1 FROM eligibility_records c WHERE c.insurer_number = $1 AND c.record_id = s.record_id "
        "  AND c.is_current AND s.disqualified_on > c.qualified_on) "
        "RETURNING s.batch_row, (SELECT 'date_order' FROM eligibility_records c WHERE c.insurer_number = $1 "
        "  AND c.record_id = s.record_id AND c.is_current) AS problem",
        insurer_number,
    )
    return [(row["batch_row"], row["problem"] or "unknown_record") for row in rows]


async def supersede_changed(conn: Connection, insurer_number: str) -> None:
    """Mark current versions that the step changes as no longer current (they stay, as history)."""
    await conn.execute(
        "UPDATE eligibility_records e SET is_current = false, superseded_at = now() FROM eligibility_stage s "
        "WHERE e.insurer_number = $1 AND e.record_id = s.record_id AND e.is_current AND CASE "
        "  WHEN s.action = 'terminate' THEN e.disqualified_on IS DISTINCT FROM s.disqualified_on "
        f"  ELSE e.action = 'terminate' OR {_DIFFERS} END",
        insurer_number,
    )


async def insert_versions(conn: Connection, *, insurer_number: str, batch_id: UUID) -> list[int]:
    """Insert a new version for every staged record without a current one; return the new version ids."""
    columns = ", ".join(_DATA)
    rows = await conn.fetch(
        f"INSERT INTO eligibility_records (insurer_number, record_id, version, batch_id, batch_row, action, {columns}) "
        f"SELECT $1, s.record_id, coalesce(p.version, 0) + 1, $2, s.batch_row, s.action, {_NEW_VALUES} "
        "FROM eligibility_stage s LEFT JOIN LATERAL (SELECT * FROM eligibility_records p "
        "  WHERE p.insurer_number = $1 AND p.record_id = s.record_id ORDER BY p.version DESC LIMIT 1) p ON true "
        "WHERE NOT EXISTS (SELECT 1 FROM eligibility_records c WHERE c.insurer_number = $1 "
        "  AND c.record_id = s.record_id AND c.is_current) "
        "RETURNING id",
        insurer_number, batch_id,
    )
    return [row["id"] for row in rows]


async def history(conn: Connection, *, insurer_number: str, record_id: str) -> list[asyncpg.Record]:
    """Every version of a record, oldest first."""
    return list(await conn.fetch(
        "SELECT * FROM eligibility_records WHERE insurer_number = $1 AND record_id = $2 ORDER BY version",
        insurer_number, record_id,
    ))
