"""Medication (薬剤情報) and checkup (特定健診) batches, stored as versions, and the reads of the consent viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from service.batches.fields import RowError
from service.batches.repository import BatchRow
from service.batches.sinks import Applied
from service.batches.steps import split_unique
from service.batches.uploaders import CLAIMS_OWNER_PREFIX
from service.core.database import Connection
from service.records import repository as repo
from service.records.rows import (
    CHECKUP_COLUMNS,
    MEDICATION_COLUMNS,
    CheckupRow,
    MedicationRow,
    validate_checkup_row,
    validate_medication_row,
)


@dataclass(frozen=True, slots=True)
class InsuredNumber:
    """The individual insured number (保険者番号・記号・番号・枝番) that names one insured person."""

    insurer_number: str
    symbol: str
    number: str
    branch: str


class MedicationSink:
    """The medication batch kind: dispensed drugs from a claims processor, one insurer number per row."""

    columns = MEDICATION_COLUMNS

    def validate(
        self, raw: dict[str, object], *, row: int, batch: BatchRow, today: date
    ) -> MedicationRow | list[RowError]:
        """Validate one row."""
        return validate_medication_row(raw, row=row, today=today)

    async def apply(
        self, conn: Connection, *, batch: BatchRow, rows: Sequence[tuple[int, MedicationRow]]
    ) -> Applied:
        """Add a version for every new or changed record."""
        await _store_versions(conn, table=repo.MEDICATION, owner=claims_processor_id(batch), batch=batch, rows=rows)
        return Applied()


class CheckupSink:
    """The checkup batch kind: results uploaded by the insurer of the examined insured."""

    columns = CHECKUP_COLUMNS

    def validate(
        self, raw: dict[str, object], *, row: int, batch: BatchRow, today: date
    ) -> CheckupRow | list[RowError]:
        """Validate one row."""
        return validate_checkup_row(raw, row=row, today=today)

    async def apply(
        self, conn: Connection, *, batch: BatchRow, rows: Sequence[tuple[int, CheckupRow]]
    ) -> Applied:
        """Add a version for every new or changed result."""
        assert batch.insurer_number is not None
        await _store_versions(conn, table=repo.CHECKUP, owner=batch.insurer_number, batch=batch, rows=rows)
        return Applied()


def claims_processor_id(batch: BatchRow) -> str:
    """The claims processor that owns a medication batch ("claims:<id>")."""
    if not batch.owner.startswith(CLAIMS_OWNER_PREFIX):
        raise ValueError(f"batch {batch.id} is not owned by a claims processor")
    return batch.owner.removeprefix(CLAIMS_OWNER_PREFIX)


def _record_id(row: MedicationRow | CheckupRow) -> str:
    return row.record_id


async def _store_versions(
    conn: Connection, *, table: repo.RecordTable, owner: str, batch: BatchRow,
    rows: Sequence[tuple[int, MedicationRow | CheckupRow]],
) -> None:
    """Apply a step set-based; a record repeated in the step is applied in file order, one group at a time."""
    if not rows:
        return
    await repo.lock_owner(conn, table, owner)
    for group in split_unique(rows, key=_record_id):
        await repo.stage(conn, table, group)
        await repo.supersede_changed(conn, table, owner)
        await repo.insert_versions(conn, table, owner=owner, batch_id=batch.id)


def _columns(insured: Sequence[InsuredNumber]) -> tuple[list[str], list[str], list[str], list[str]]:
    return (
        [i.insurer_number for i in insured], [i.symbol for i in insured], [i.number for i in insured],
        [i.branch for i in insured],
    )


async def medications_for(
    conn: Connection | asyncpg.Pool, *, insured: Sequence[InsuredNumber], since: date
) -> list[dict[str, object]]:
    """Current medication records of these insured numbers dispensed on or after `since`, newest first."""
    if not insured:
        return []
    rows = await repo.current_medications(conn, insured=_columns(insured), since=since)
    return [dict(row.items()) for row in rows]


async def checkups_for(
    conn: Connection | asyncpg.Pool, *, insured: Sequence[InsuredNumber], since: date
) -> list[dict[str, object]]:
    """Current checkup results of these insured numbers examined on or after `since`, newest first."""
    if not insured:
        return []
    rows = await repo.current_checkups(conn, insured=_columns(insured), since=since)
    return [dict(row.items()) for row in rows]
