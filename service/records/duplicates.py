"""Duplicate medication (重複投薬): the same ingredient dispensed by two facilities for overlapping days.

"Same ingredient" is read from the YJ code's structure (個別医薬品コード, 12 characters, built like the
薬価基準収載医薬品コード): characters 1-4 are the 薬効分類 (therapeutic class), 5-7 the 投与経路及び成分
(route and ingredient), 8 the 剤形, 9 the 規格 (strength), 10-11 the 銘柄 (brand) and 12 a check character.
Two codes with the same first seven characters are the same ingredient by the same route, whatever the
strength, form or brand (アムロジピン錠5mg and アムロジピンOD錠2.5mg of any maker both start 2149039).
What this does not see: a combination product and a single-ingredient product sharing an ingredient (a
combination has its own 成分 number), and the same substance by another route (a different code by design).

A dispensing covers `days` days from the dispensing day (one day when `days` is missing); two dispensings
overlap when those periods share a day. Dispensings of the same facility are not flagged: a repeat
prescription is not a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from typing import Any

INGREDIENT_CHARS = 7


def ingredient_of(drug_code: str) -> str:
    """The YJ code's 薬効分類 + 投与経路及び成分 (its first seven characters)."""
    return drug_code[:INGREDIENT_CHARS]


def covered_days(record: Mapping[str, Any]) -> tuple[date, date]:
    """First and last day a dispensing covers."""
    start: date = record["dispensed_on"]
    return start, start + timedelta(days=max(int(record.get("days") or 1), 1) - 1)


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two dispensings (indexes into the records) of one ingredient, from two facilities, overlapping in time."""

    ingredient: str
    first: int
    second: int
    overlap_from: date
    overlap_to: date


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[date, date] | None:
    (a_from, a_to), (b_from, b_to) = covered_days(a), covered_days(b)
    start, end = max(a_from, b_from), min(a_to, b_to)
    return (start, end) if start <= end else None


def duplicate_pairs(records: Sequence[Mapping[str, Any]]) -> list[DuplicatePair]:
    """Every pair of records that is the same ingredient from two facilities over overlapping days."""
    by_ingredient: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_ingredient.setdefault(ingredient_of(record["drug_code"]), []).append(index)
    pairs = []
    for ingredient, indexes in by_ingredient.items():
        for i, j in combinations(indexes, 2):
            if records[i]["facility_code"] == records[j]["facility_code"]:
                continue
            if (overlap := _overlap(records[i], records[j])) is not None:
                pairs.append(DuplicatePair(ingredient, i, j, *overlap))
    return pairs


def duplicates_by_record(records: Sequence[Mapping[str, Any]]) -> dict[int, list[DuplicatePair]]:
    """For each flagged record (by index), the pairs it is part of."""
    flagged: dict[int, list[DuplicatePair]] = {}
    for pair in duplicate_pairs(records):
        flagged.setdefault(pair.first, []).append(pair)
        flagged.setdefault(pair.second, []).append(pair)
    return flagged
