"""What a check answers: the validity code (資格確認の有効性) of a holder's linked records as of a date.

1 有効 valid / 2 無効 invalid / 3 無効・新しい資格あり invalid, a newer qualification exists /
4 該当資格なし no qualification / 5 複数該当 several match (never guess).
A record from another insurer that starts later supersedes an older one from its start (job change), even
when the old insurer has not yet sent the 資格喪失日.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

FAR_FUTURE = date(9999, 12, 31)


@dataclass(frozen=True, slots=True)
class Coverage:
    """A linked record's current version, as the check shows it."""

    version_id: int
    insurer_number: str
    symbol: str
    number: str
    branch: str
    holder_kind: int
    name_kanji: str
    name_kana: str
    birthdate: date
    sex: int
    qualified_on: date
    disqualified_on: date | None
    copay_ratio: int
    limit_category: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """The validity code and the record it is about (None when no record applies)."""

    validity_code: int
    coverage: Coverage | None

    @property
    def eligible(self) -> bool:
        """Code 1."""
        return self.validity_code == 1


def _effective_end(record: Coverage, records: list[Coverage]) -> date:
    """The first day not covered: the 資格喪失日, or the start of a later record of another insurer."""
    end = record.disqualified_on or FAR_FUTURE
    for other in records:
        if other.insurer_number != record.insurer_number and other.qualified_on > record.qualified_on:
            end = min(end, other.qualified_on)
    return end


def evaluate(records: list[Coverage], *, as_of: date, ambiguous: bool) -> Answer:
    """The answer of a check as of a date, from the holder's linked records."""
    if ambiguous:
        return Answer(5, None)
    covering = [r for r in records if r.qualified_on <= as_of < _effective_end(r, records)]
    if covering:
        newest = max(covering, key=lambda r: r.qualified_on)
        same_insurer = [r for r in covering if r.insurer_number == newest.insurer_number]
        return Answer(5, None) if len(same_insurer) > 1 else Answer(1, newest)
    started = [r for r in records if r.qualified_on <= as_of]
    if not started:
        return Answer(4, None)
    latest = max(started, key=lambda r: r.qualified_on)
    newer_exists = any(r.qualified_on > latest.qualified_on for r in records)
    return Answer(3 if newer_exists else 2, latest)
