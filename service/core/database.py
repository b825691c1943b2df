"""The asyncpg pool and the per-request transaction (one transaction per request, owned by the dependency)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from service.core import metrics
from service.core.tasks import cancel_and_wait

# What repositories and services take: a connection of their own (scripts, tests) or one lent by a pool (asyncpg
# hands out a proxy of the same methods, a distinct class to the type checker).
Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads,
            schema="pg_catalog",
        )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Nothing to reset: the service never changes session state (no SET, LISTEN, cursors or session locks;
    its staging tables are temporary ones that empty at commit).

    asyncpg still rolls back a transaction left open before calling this; its default reset would cost one
    round trip per request (`RESET ALL; UNLISTEN *; ...`).
    """


APP_ROLE = "onshi_app"


def app_role_url(owner_url: str, explicit: str | None = None) -> str:
    """The service's least-privilege login: `explicit` (ONSHI_APP_DATABASE_URL) when set, else `owner_url` with
    its user replaced by the role of migration 0009 and no password."""
    if explicit:
        return explicit
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{host}"))


def same_login(url: str, template: str) -> str:
    """`url`'s server and database with `template`'s user and password (the replica, as the service's role)."""
    parts, login = urlsplit(url), urlsplit(template).netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{login}@{parts.netloc.rpartition('@')[2]}"))


ACQUIRE_TIMEOUT = 10.0
"""Seconds a request or the batch worker waits for a pooled connection in a burst: then a transient fault (503, or
a retried step), never a wait without end."""


@asynccontextmanager
async def pooled(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A connection of the pool, waited for at most ACQUIRE_TIMEOUT. asyncio.timeout, not asyncpg's own acquire
    timeout, which runs the wait (and the release after it) through asyncio.wait_for, a task of its own each."""
    async with asyncio.timeout(ACQUIRE_TIMEOUT):
        conn = await pool.acquire()
    try:
        yield conn
    finally:
        await pool.release(conn)


async def create_pool(
    database_url: str, *, min_size: int, max_size: int, command_timeout: float | None = None
) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python objects.

    Connecting gives up after 10 s and a query after `command_timeout`, so that a database that stops answering
    is a fault the caller sees (503, or a retried batch step), never a request or a worker waiting for ever.
    """
    pool = await asyncpg.create_pool(
        dsn=database_url, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session,
        server_settings={"application_name": "onshi", "timezone": "UTC"}, timeout=10,
        command_timeout=command_timeout,
    )
    assert pool is not None
    return pool


# How far behind the primary a replica is, in seconds (0 when it has replayed everything it received).
_REPLICA_LAG = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


class Reads:
    """Where reads that may be a few seconds stale go: a streaming replica while it keeps up, else the primary.

    Only reads that tolerate that staleness use it (records of a patient's history, the holder's access log):
    authorisation (consents, certificate states) and every write stay on the primary. A task measures the
    replica's lag every second; a replica more than `max_lag` seconds behind, or unreachable, is left aside until
    it catches up (a read that fails in the second before that is a 503, as any outage).
    """

    def __init__(self, primary: asyncpg.Pool, replica: asyncpg.Pool | None = None, *, max_lag: float = 5.0) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag = max_lag
        self.lag: float | None = None  # None: no replica, or not measured yet / unreachable
        self._task: asyncio.Task[None] | None = None

    @property
    def use_replica(self) -> bool:
        """Whether reads go to the replica now."""
        return self.replica is not None and self.lag is not None and self.lag <= self.max_lag

    @asynccontextmanager
    async def connection(self, held: Connection) -> AsyncIterator[Connection]:
        """A connection for a stale-tolerant read: the replica's, or else `held`, the primary connection the request
        already holds. Never a second primary connection: requests that each held one and waited for another
        emptied the pool and waited on each other for ever (20 viewers in the paced benchmark, 16 connections)."""
        if not self.use_replica or self.replica is None:
            yield held
            return
        async with pooled(self.replica) as conn:
            yield conn

    def start(self) -> None:
        """Begin measuring the replica's lag (nothing to do without one)."""
        if self.replica is not None:
            self._task = asyncio.create_task(self._watch(), name="replica-lag")

    async def stop(self) -> None:
        """Stop measuring."""
        await cancel_and_wait(self._task)

    async def measure(self) -> float | None:
        """The replica's lag now (None when it cannot be read)."""
        assert self.replica is not None
        try:
            self.lag = float(await self.replica.fetchval(_REPLICA_LAG, timeout=2))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            self.lag = None
        metrics.replica_lag.set(self.lag if self.lag is not None else -1)
        return self.lag

    async def _watch(self) -> None:
        while True:
            await self.measure()
            await asyncio.sleep(1.0)
