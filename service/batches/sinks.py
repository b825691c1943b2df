"""What each batch kind does with its rows: validate one row, apply a step of valid rows.

The pipeline knows no kind: each domain (eligibility, records) owns its sink, and the app hands the worker its
sinks when it is assembled (`service.app.batch_sinks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from service.batches.fields import RowError
from service.batches.header import Columns
from service.batches.repository import BatchRow
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

    @property
    def columns(self) -> Columns:
        """The kind (`columns.kind`) and the columns its uploads use."""

    def validate(self, raw: dict[str, object], *, row: int, batch: BatchRow, today: date) -> Any | list[RowError]:
        """The typed row, or its errors."""

    async def apply(self, conn: Connection, *, batch: BatchRow, rows: Sequence[tuple[int, Any]]) -> Applied:
        """Store valid rows (in the caller's transaction)."""


Sinks = Mapping[str, Sink]


def sinks_by_kind(*sinks: Sink) -> dict[str, Sink]:
    """The sinks a worker serves, by kind; a kind given twice is a programming error."""
    by_kind: dict[str, Sink] = {}
    for sink in sinks:
        if sink.columns.kind in by_kind:
            raise ValueError(f"two sinks for batch kind {sink.columns.kind!r}")
        by_kind[sink.columns.kind] = sink
    return by_kind


def sink_for(sinks: Sinks, kind: str) -> Sink:
    """The sink of a batch kind; a kind no sink serves is a programming error."""
    if kind not in sinks:
        raise ValueError(f"no sink for batch kind {kind!r}")
    return sinks[kind]
