"""Eligibility batches: validate rows, store them as new versions, link them by five-field matching."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from service.batches.fields import RowError
from service.batches.repository import BatchRow
from service.batches.sinks import Applied
from service.batches.steps import split_unique
from service.core.database import Connection
from service.eligibility import repository as repo
from service.eligibility.rows import ELIGIBILITY_COLUMNS, EligibilityRow, validate_eligibility_row
from service.linking import service as linking
from service.linking.normalize import normalize_address, normalize_kana_name, normalize_kanji_name

_TERMINATE_ERRORS = {
    "unknown_record": ("record_id", "no current record with this record_id to terminate"),
    "date_order": ("disqualified_on", "資格喪失日 (disqualified_on) must be after the record's 資格取得日"),
}


@dataclass(frozen=True, slots=True)
class StagedRow:
    """A valid row with the normalised forms five-field matching compares."""

    row: EligibilityRow
    norm_kanji: str | None
    norm_kana: str | None
    norm_address: str | None

    def values(self, batch_row: int) -> tuple[object, ...]:
        """The staging table's columns, in repo.STAGE_COLUMNS order."""
        r = self.row
        return (
            batch_row, r.record_id, r.action, r.symbol, r.number, r.branch, r.holder_kind, r.name_kanji,
            r.name_kana, r.birthdate, r.sex, r.address, r.postal_code, r.qualified_on, r.disqualified_on,
            r.copay_ratio, r.limit_category, self.norm_kanji, self.norm_kana, self.norm_address,
        )


def stage_row(row: EligibilityRow) -> StagedRow:
    """Normalise a valid row's identity fields (in the worker thread, off the event loop)."""
    return StagedRow(
        row=row,
        norm_kanji=None if row.name_kanji is None else normalize_kanji_name(row.name_kanji),
        norm_kana=None if row.name_kana is None else normalize_kana_name(row.name_kana),
        norm_address=None if row.address is None else normalize_address(row.address),
    )


def _record_id(staged: StagedRow) -> str:
    return staged.row.record_id


class EligibilitySink:
    """The eligibility batch kind."""

    columns = ELIGIBILITY_COLUMNS

    def validate(
        self, raw: dict[str, object], *, row: int, batch: BatchRow, today: date
    ) -> StagedRow | list[RowError]:
        """Validate and normalise one row."""
        assert batch.insurer_number is not None
        result = validate_eligibility_row(raw, row=row, insurer_number=batch.insurer_number, today=today)
        return result if isinstance(result, list) else stage_row(result)

    async def apply(
        self, conn: Connection, *, batch: BatchRow, rows: Sequence[tuple[int, StagedRow]]
    ) -> Applied:
        """Add versions for changed records, then match the new versions against registered holders."""
        assert batch.insurer_number is not None
        applied = Applied()
        if not rows:
            return applied
        await repo.lock_insurer(conn, batch.insurer_number)
        for group in split_unique(rows, key=_record_id):
            version_ids = await _apply_group(conn, batch=batch, group=group, applied=applied)
            counts = await linking.link_uploaded(conn, version_ids=version_ids, actor=f"batch:{batch.id}")
            applied.linked += counts.linked
            applied.needs_review += counts.needs_review
            applied.ambiguous += counts.ambiguous
        return applied


async def _apply_group(
    conn: Connection, *, batch: BatchRow, group: list[tuple[int, StagedRow]], applied: Applied
) -> list[int]:
    assert batch.insurer_number is not None
    await repo.stage(conn, [staged.values(batch_row) for batch_row, staged in group])
    for batch_row, problem in await repo.reject_bad_terminations(conn, batch.insurer_number):
        field, detail = _TERMINATE_ERRORS[problem]
        applied.rejected.append(RowError(row=batch_row, field=field, error=problem, detail=detail))
    await repo.supersede_changed(conn, batch.insurer_number)
    return await repo.insert_versions(conn, insurer_number=batch.insurer_number, batch_id=batch.id)
