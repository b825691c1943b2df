"""The event loop's lag: a timer asks to wake every 100 ms and records how late it woke.

A request waits whenever other code holds the loop (a CPU-heavy step, a long garbage collection, the GIL held by a
thread); this measures that wait directly, in production as in benchmarks (`onshi_event_loop_lag_seconds`).
"""

from __future__ import annotations

import asyncio

from service.core import metrics
from service.core.tasks import cancel_and_wait

INTERVAL = 0.1


class LoopLagMonitor:
    """Samples the lag of the running loop until stopped."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin sampling."""
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        """Stop sampling."""
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(INTERVAL)
            metrics.event_loop_lag.observe(max(0.0, loop.time() - asked - INTERVAL))
