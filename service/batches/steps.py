"""Helpers for sinks that apply a step of rows set-based (COPY into staging, then a few SQL statements)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def split_unique(rows: Sequence[tuple[int, T]], *, key: Callable[[T], Hashable]) -> list[list[tuple[int, T]]]:
    """Consecutive groups in which each key (record) appears once, so that rows apply in file order."""
    groups: list[list[tuple[int, T]]] = [[]]
    seen: set[Hashable] = set()
    for item in rows:
        record = key(item[1])
        if record in seen:
            groups.append([])
            seen.clear()
        seen.add(record)
        groups[-1].append(item)
    return [g for g in groups if g]
