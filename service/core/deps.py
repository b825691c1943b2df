"""FastAPI dependencies of the core: the settings, the pool, the request's transaction, the stale-tolerant reads,
and the paging offset (the authority's are in service.authority.deps). The modules they come from import no web code,
so that the admin command and scripts start without FastAPI.

The getters are `async def` although they never await: FastAPI runs a plain `def` dependency in its thread pool,
a thread hand-off (and GIL hand-back) per dependency per request, about a quarter of a verification's CPU.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request

from service.core.database import Connection, Reads, pooled
from service.core.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_pool(request: Request) -> asyncpg.Pool:
    """The application's pool (built in the lifespan)."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def transaction(request: Request) -> AsyncIterator[Connection]:
    """A connection inside a transaction: committed when the handler succeeds, rolled back on any error."""
    async with pooled(get_pool(request)) as conn, conn.transaction():
        yield conn


# scope="function": the transaction commits before the response is sent, so a failed commit is never a 2xx.
DB = Annotated[Connection, Depends(transaction, scope="function")]


async def _reads_dependency(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


ReadsDep = Annotated[Reads, Depends(_reads_dependency)]


MAX_OFFSET = 2**31 - 1
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip (at most 2,147,483,647)")]
"""A paging offset: larger ones are 422, never a database error."""
