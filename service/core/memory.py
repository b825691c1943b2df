"""Giving memory freed by a large piece of work (a batch) back to the system.

glibc keeps the pages a batch freed in its heaps (asyncpg's buffers, large strings and lists of a step) until the
top of a heap is free; malloc_trim(0) returns every free page of every arena. Measured with
benchmarks/batch_memory.py: after a 100,000-row eligibility batch it gives back about 4.5 MiB in a few ms.
(pymalloc's 1 MiB arenas are not touched: an arena goes back to the system by itself once it is empty.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked_up = False


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None with another C library."""
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        name = ctypes.util.find_library("c")
        try:
            _trim = ctypes.CDLL(name).malloc_trim if name else None
        except (OSError, AttributeError):
            _trim = None
    return _trim


def release_freed_memory() -> float:
    """Return glibc's free pages to the system (nothing with another C library); the seconds it took."""
    started = time.perf_counter()
    if (trim := _malloc_trim()) is not None:
        trim(0)
    return time.perf_counter() - started
