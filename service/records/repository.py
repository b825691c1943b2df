"""All SQL of medication records and checkup results: versioned storage of a batch step, and the viewer's reads.

Both kinds share one versioning scheme (as eligibility_records): a record is named by its uploader and the
uploader's record_id; a step is COPYed into a transaction-local staging table, current versions that the step
changes stop being current, and every staged record without a current version gets a new version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from uuid import UUID

import asyncpg

from service.core.database import Connection
from service.records.rows import MEASURE_RANGES, CheckupRow, MedicationRow


@dataclass(frozen=True, slots=True)
class RecordTable:
    """How one record kind is stored: its table, its uploader column, its staging table and its columns."""

    table: str
    owner_column: str  # the uploader: the record's identity is (owner, record_id)
    owner_type: str
    stage_table: str
    stage_types: tuple[tuple[str, str], ...]  # (column, SQL type) of every uploaded column, record_id first
    lock_namespace: int  # one step at a time per uploader: versions are numbered without gaps or races

    @property
    def columns(self) -> tuple[str, ...]:
        """The uploaded columns, record_id first (the typed row's fields, in order)."""
        return tuple(name for name, _type in self.stage_types)

    @property
    def data(self) -> tuple[str, ...]:
        """The versioned columns: every uploaded column but record_id."""
        return self.columns[1:]


def _types(row_type: type, sql_types: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, sql_types.get(f.name, "text")) for f in fields(row_type))


MEDICATION = RecordTable(
    table="medication_records", owner_column="claims_processor_id", owner_type="uuid",
    stage_table="medication_stage", lock_namespace=7303,
    stage_types=_types(MedicationRow, {"dispensed_on": "date", "quantity": "numeric", "days": "integer"}),
)
_MEASURES = tuple(MEASURE_RANGES)
CHECKUP = RecordTable(
    table="checkup_results", owner_column="insurer_number", owner_type="text",
    stage_table="checkup_stage", lock_namespace=7304,
    stage_types=_types(CheckupRow, {"examined_on": "date", **dict.fromkeys(_MEASURES, "numeric")}),
)


def _row_values(table: RecordTable, batch_row: int, row: MedicationRow | CheckupRow) -> tuple[object, ...]:
    return (batch_row, *(getattr(row, name) for name in table.columns))


async def lock_owner(conn: Connection, table: RecordTable, owner: str) -> None:
    """Serialise record changes of one uploader (held until the step commits)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", table.lock_namespace, owner)


async def stage(
    conn: Connection, table: RecordTable, rows: Sequence[tuple[int, MedicationRow | CheckupRow]]
) -> None:
    """COPY a step's rows (each record_id once) into a transaction-local staging table."""
    definition = ", ".join(f"{name} {sql_type}" for name, sql_type in table.stage_types)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {table.stage_table} (batch_row integer, {definition}) ON COMMIT DELETE ROWS"
    )
    await conn.execute(f"TRUNCATE {table.stage_table}")
    await conn.copy_records_to_table(
        table.stage_table, columns=("batch_row", *table.columns),
        records=[_row_values(table, batch_row, row) for batch_row, row in rows],
    )


async def supersede_changed(conn: Connection, table: RecordTable, owner: str) -> None:
    """Mark current versions that the staged rows change as no longer current (they stay, as history)."""
    current = ", ".join(f"e.{c}" for c in table.data)
    staged = ", ".join(f"s.{c}" for c in table.data)
    await conn.execute(
        f"UPDATE {table.table} e SET is_current = false, superseded_at = now() FROM {table.stage_table} s "
        f"WHERE e.{table.owner_column} = $1::{table.owner_type} AND e.record_id = s.record_id AND e.is_current "
        f"AND ({current}) IS DISTINCT FROM ({staged})",
        owner,
    )


async def insert_versions(conn: Connection, table: RecordTable, *, owner: str, batch_id: UUID) -> int:
    """Insert a new version for every staged record without a current one; return how many were added."""
    data = ", ".join(table.data)
    staged = ", ".join(f"s.{c}" for c in table.data)
    status = await conn.execute(
        f"INSERT INTO {table.table} ({table.owner_column}, record_id, version, batch_id, batch_row, {data}) "
        f"SELECT $1::{table.owner_type}, s.record_id, coalesce(p.version, 0) + 1, $2, s.batch_row, {staged} "
        f"FROM {table.stage_table} s LEFT JOIN LATERAL (SELECT max(p.version) AS version FROM {table.table} p "
        f"  WHERE p.{table.owner_column} = $1::{table.owner_type} AND p.record_id = s.record_id) p ON true "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table.table} c WHERE c.{table.owner_column} = $1::{table.owner_type} "
        f"  AND c.record_id = s.record_id AND c.is_current)",
        owner, batch_id,
    )
    return int(status.rsplit(" ", 1)[-1])


_INSURED = (
    "(insurer_number, symbol, number, branch) IN "
    "(SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]))"
)


async def current_medications(
    conn: Connection | asyncpg.Pool, *, insured: tuple[list[str], list[str], list[str], list[str]], since: date
) -> list[asyncpg.Record]:
    """Current medication records of these insured numbers dispensed on or after `since`, newest first.

    The dispensing facility's name is there when the facility is registered here (claims name any facility).
    """
    return list(await conn.fetch(
        "SELECT id, dispensed_on, drug_code, drug_name, quantity, unit, days, facility_code, "
        "  (SELECT f.name FROM facilities f WHERE f.code = medication_records.facility_code) AS facility_name "
        f"FROM medication_records WHERE is_current AND dispensed_on >= $5 AND {_INSURED} "
        "ORDER BY dispensed_on DESC, id DESC",
        *insured, since,
    ))


async def current_checkups(
    conn: Connection | asyncpg.Pool, *, insured: tuple[list[str], list[str], list[str], list[str]], since: date
) -> list[asyncpg.Record]:
    """Current checkup results of these insured numbers examined on or after `since`, newest first."""
    return list(await conn.fetch(
        f"SELECT id, examined_on, {', '.join(_MEASURES)} FROM checkup_results "
        f"WHERE is_current AND examined_on >= $5 AND {_INSURED} ORDER BY examined_on DESC, id DESC",
        *insured, since,
    ))
