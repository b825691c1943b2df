"""What each batch kind does with its rows: validate one row, apply a step of valid rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from service.batches.repository import BatchRow
from service.batches.rows import RowError
from service.core.database import Connection


@dataclass(slots=True)
class Applied:
    """The outcome of applying a step: rows the database refused, and linking counts."""

    rejected: list[RowError] = field(default_factory=list)
    linked: int = 0
    needs_review: int = 0
    ambiguous: int = 0


class Sink(Protocol):
    """One batch kind."""

    kind: str

    def validate(self, raw: dict[str, object], *, row: int, batch: BatchRow, today: date) -> Any | list[RowError]:
        """The typed row, or its errors."""

    async def apply(self, conn: Connection, *, batch: BatchRow, rows: Sequence[tuple[int, Any]]) -> Applied:
        """Store valid rows (in the caller's transaction)."""


_SINKS: dict[str, Sink] = {}


def register(sink: Sink) -> None:
    """Make a batch kind known to the worker."""
    _SINKS[sink.kind] = sink


def sink_for(kind: str) -> Sink:
    """The sink of a batch kind."""
    if not _SINKS:
        _load_builtin()
    return _SINKS[kind]


def _load_builtin() -> None:
    from service.eligibility.service import EligibilitySink
    from service.records.service import CheckupSink, MedicationSink

    register(EligibilitySink())
    register(MedicationSink())
    register(CheckupSink())
