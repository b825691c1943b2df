"""Time-ordered identifiers (UUID version 7, RFC 9562) for rows of the tables that grow with traffic.

Random (version 4) keys land anywhere in an index, so once a month's index outgrows memory every insert reads a
random page from disk; version 7 keys start with the time, so inserts append to the index's right edge.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from uuid import UUID


def uuid7(moment: datetime) -> UUID:
    """A version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = int(moment.timestamp() * 1000) & (1 << 48) - 1
    random = secrets.randbits(74)
    value = millis << 80 | 0x7 << 76 | (random >> 62) << 64 | 0b10 << 62 | random & (1 << 62) - 1
    return UUID(int=value)
