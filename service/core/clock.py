"""Time, in one place, so that tests can move it (24-hour consents, 5-minute windows) without sleeping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


class Clock:
    """Wall-clock time; `offset` shifts it (tests only)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""
        return datetime.now(UTC) + self.offset

    def today_jst(self) -> date:
        """Today in Japan, the contract's default "as of" date."""
        return self.now().astimezone(JST).date()


clock = Clock()
