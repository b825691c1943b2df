"""The columns of a batch kind and the check of an upload's header line (row 0) against them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.batches.fields import RowError

_SAFE_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns a batch kind understands, and which of them a header must name."""

    kind: str
    contract: tuple[str, ...]  # the contract's columns, in its order (the typed row's fields)
    required: tuple[str, ...]
    extra: tuple[str, ...] = ()  # understood (validated, not stored) although not in the contract's list
    # (column, columns): when the header lacks the column, these are required too (eligibility's action)
    required_without: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def known(self) -> frozenset[str]:
        """Every column name an upload of this kind may use."""
        return frozenset(self.contract + self.extra)

    def required_for(self, header: Sequence[str]) -> tuple[str, ...]:
        """The columns this header must name."""
        required = self.required
        for column, also in self.required_without:
            if column not in header:
                required += also
        return required


def check_header(header: Sequence[str], columns: Columns, *, partial: bool = False) -> list[RowError]:
    """Row-0 errors for a batch header: missing required columns, unknown and duplicate columns.

    `partial=True` checks only unknown and duplicate names (for an NDJSON line, whose keys may be omitted).
    """
    known = columns.known()
    if not partial and not any(column in known for column in header):
        detail = f"the first line must be the header with the {columns.kind} column names, e.g. record_id"
        return [RowError(0, None, "missing_header", detail)]
    errors = _unknown_columns(header, known) + _duplicate_columns(header)
    return errors if partial else errors + _missing_columns(header, columns.required_for(header))


def _unknown_columns(header: Sequence[str], known: frozenset[str]) -> list[RowError]:
    errors = []
    for position, column in enumerate(header, start=1):
        if column not in known:
            hint = _column_hint(column, known)
            name = column if _SAFE_COLUMN.fullmatch(column) else None
            detail = f"column {position}{f' {name!r}' if name else ''} is not in the contract{hint}"
            errors.append(RowError(0, name, "unknown_column", detail))
    return errors


def _column_hint(column: str, known: frozenset[str]) -> str:
    cleaned = column.lstrip("\ufeff").strip().lower()
    return f" (did you mean {cleaned!r}?)" if cleaned in known else ""


def _duplicate_columns(header: Sequence[str]) -> list[RowError]:
    seen: set[str] = set()
    errors = []
    for column in header:
        if column in seen and _SAFE_COLUMN.fullmatch(column):
            errors.append(RowError(0, column, "duplicate_column", "the column appears more than once"))
        seen.add(column)
    return errors


def _missing_columns(header: Sequence[str], required: tuple[str, ...]) -> list[RowError]:
    present = set(header)
    return [
        RowError(0, column, "missing_column", "required column is missing from the header")
        for column in required
        if column not in present
    ]
