"""release_freed_memory: glibc's free pages go back to the system after a large piece of work."""

from __future__ import annotations

import platform

import pytest

from service.core import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_pages_go_back_to_the_system() -> None:
    def anonymous_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:"))

    blocks = [bytearray(100_000) for _ in range(400)]  # 40 MB in glibc's heap (below its mmap threshold)
    for block in blocks:
        block[::4096] = b"\1" * len(block[::4096])  # touch every page
    keep = bytearray(100)  # allocated last: the heap's top stays in use, so free() alone cannot shrink it
    grown = anonymous_kib()
    del blocks
    memory.release_freed_memory()
    assert keep is not None
    assert grown - anonymous_kib() > 20_000  # most of the 40 MB went back
