"""Transient faults of PostgreSQL and Redis: how to recognise them, retry them, and answer them over HTTP.

A transient fault is one that goes away without anyone changing the request: the server restarts, a connection
drops, the pool cannot connect for a moment, a deadlock or serialisation failure. Retrying is right for those
and for nothing else (a bug retried is a bug repeated).

Cancellation is not a fault: asyncpg sometimes surfaces a cancelled operation as `InternalClientError` or
`InterfaceError`, and a plain `except Exception` would swallow the shutdown: retries here stop at once when the
current task is being cancelled (`service.core.tasks`, which also stops the service's background tasks).
"""

from __future__ import annotations

import asyncio
import random
import socket
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import redis.exceptions
from starlette.responses import JSONResponse

from service.core.logging import get_logger
from service.core.tasks import raise_if_cancelling

log = get_logger(__name__)
T = TypeVar("T")
RETRY_AFTER_SECONDS = 2  # what an outage answer tells clients to wait

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    socket.gaierror,  # the server's name does not resolve (DNS)
    TimeoutError,  # pool acquire, connect, or our own step timeouts
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, out of memory or disk
    asyncpg.exceptions.TransactionRollbackError,  # 40: serialisation failure, deadlock
    asyncpg.exceptions.ConnectionDoesNotExistError,  # the connection closed under the operation
    redis.exceptions.ConnectionError,  # also BusyLoadingError (Redis loading its data after a restart)
    redis.exceptions.TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work later can succeed (the exception or one it was raised from)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if (isinstance(current, _TRANSIENT) or type(current) is OSError or _connection_died(current)
                or _redis_connection_torn_down(current)):
            return True
        current, seen = current.__cause__ or current.__context__, seen + 1
    return False


# A bare OSError is what connecting raises when every address failed ("Multiple exceptions: ..."); its
# subclasses other than the ones above (a missing file, a permission) are bugs, not outages.


def _connection_died(exc: BaseException) -> bool:
    """asyncpg's own words for a connection the server closed under it (seen in `pg_ctl restart -m fast`):
    the server's FATAL arrives between two queries of a transaction, the next query fails with "cannot switch
    to state ...", and leaving the transaction with "the underlying connection is closed"."""
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc) or "connection was closed" in str(exc)
    return isinstance(exc, asyncpg.InternalClientError) and str(exc).startswith("cannot switch to state")


def _redis_connection_torn_down(exc: BaseException) -> bool:
    """redis-py's asyncio connections leak the transport's own error (`'NoneType' object has no attribute
    'writelines'`, `... is not callable`, or uvloop's `unable to perform operation on <TCPTransport closed=True
    ...>; the handler is closed`) instead of ConnectionError when they write to a connection the peer has just
    closed (redis/redis-py#4287; each seen here when a Redis Cluster master fails over)."""
    leaked = ((isinstance(exc, AttributeError | TypeError) and "'NoneType' object" in str(exc))
              or (isinstance(exc, RuntimeError) and str(exc).endswith("the handler is closed")))
    if not leaked:
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return any(frame.filename.replace("\\", "/").endswith("redis/asyncio/connection.py") for frame in frames)


class RetriesExhausted(Exception):
    """A transient fault outlasted the retry budget: the work is put off, not failed."""


async def retry_transient(
    operation: Callable[[], Awaitable[T]], *, what: str, budget_seconds: float, first_delay: float = 0.2,
    max_delay: float = 5.0,
) -> T:
    """Run `operation`, retrying transient faults with exponential backoff (jittered) for `budget_seconds`.

    Anything else is raised at once; a fault that lasts longer than the budget raises RetriesExhausted.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_seconds
    delay = first_delay
    attempt = 1
    while True:
        try:
            return await operation()
        except Exception as exc:
            raise_if_cancelling(exc)
            if not is_transient(exc):
                raise
            if loop.time() + delay > deadline:
                raise RetriesExhausted(f"{what}: {type(exc).__name__} for {budget_seconds:.0f} s") from exc
            log.warning("transient fault, retrying", what=what, attempt=attempt, error=type(exc).__name__,
                        retry_in=round(delay, 2))
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay, attempt = min(delay * 2, max_delay), attempt + 1


def unhandled_response(exc: Exception) -> JSONResponse:
    """The answer to an exception no handler took: 503 with Retry-After for an outage, else a logged 500.

    Both are logged with the request id (bound by the request middleware); the 500 with its traceback.
    """
    if is_transient(exc):
        log.warning("dependency unavailable", error=type(exc).__name__, detail=str(exc)[:200])
        return JSONResponse(
            {"error": "service_unavailable",
             "detail": "the database or Redis is unavailable for a moment: retry after the Retry-After seconds"},
            status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"error": "internal_error", "detail": "an unexpected error: quote the X-Request-ID"},
                        status_code=500)
