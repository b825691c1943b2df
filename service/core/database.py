"""The asyncpg pool and the per-request transaction (one transaction per request, owned by the dependency)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

Connection = asyncpg.Connection


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


def get_pool(request: Request) -> asyncpg.Pool:
    """The application's pool (built in the lifespan)."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def _pool_dependency(request: Request) -> asyncpg.Pool:
    return get_pool(request)


# For handlers whose statements each stand alone (the verification hot path): no connection is held while the
# request waits on Redis or checks a signature, and no BEGIN/COMMIT round trips are spent.
PoolDep = Annotated[asyncpg.Pool, Depends(_pool_dependency)]


async def transaction(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction: committed when the handler succeeds, rolled back on any error."""
    async with get_pool(request).acquire() as conn, conn.transaction():
        yield conn


# scope="function": the transaction commits before the response is sent, so a failed commit is never a 2xx.
DB = Annotated[asyncpg.Connection, Depends(transaction, scope="function")]


def record_to_dict(record: Any) -> dict[str, Any]:
    """An asyncpg Record as a plain dict."""
    return dict(record.items())
