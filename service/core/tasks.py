"""Stopping the service's own background tasks, and telling a cancellation from a fault.

asyncpg sometimes surfaces a cancelled operation as `InternalClientError` or `InterfaceError`, and a plain
`except Exception` would swallow the shutdown: `raise_if_cancelling` turns such an error back into
`CancelledError` whenever the current task is being cancelled. `cancel_and_wait` is how background tasks are
stopped. Plain asyncio, so that what only needs these (the database module, the admin command) does not import
the web stack or the Redis client.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def raise_if_cancelling(exc: BaseException) -> None:
    """Re-raise as CancelledError when the current task is being cancelled (the error is its symptom)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from exc


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a task (None: nothing was started) and wait until it has ended; its error, if it failed, is raised."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
