"""A rate limit's figure: "N events per period" (`Rate.parse("5/15m")`), as the settings write it.

Apart from the limiter (service.core.ratelimit, which needs the Redis client) so that reading the settings does
not import Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` events per `period` seconds (a burst of `count` allowed)."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`"5/15m"`, `"60/1h"`, `"120/m"` (units s, m, h, d); ValueError otherwise."""
        return _parse(text)

    @property
    def interval_ms(self) -> int:
        """Milliseconds between two events once the burst is spent."""
        return max(1, round(self.period * 1000 / self.count))


@lru_cache(maxsize=64)
def _parse(text: str) -> Rate:
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"a rate is COUNT/PERIOD with a unit s, m, h or d (like 5/15m), not {text!r}")
    period = int(match.group(2) or 1) * _UNITS[match.group(3)]
    if period < 1:
        raise ValueError(f"the period of {text!r} must be at least 1 s")
    return Rate(count=int(match.group(1)), period=float(period))
