"""Fixtures of the fault tests: their own PostgreSQL and Redis (once per run), a service process per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from service.core.database import create_pool
from tests.faults.servers import Postgres, Redis, Service, remove, scratch_dir

# What the fault tests run the service with: small steps (a batch spans many transactions), a short lease (a
# killed worker's batch is taken over in seconds) and a short retry budget (a 5 s outage outlasts it: the batch
# is put off and resumed, never failed).
SERVICE_SETTINGS = {"batch_rows_per_step": "500", "batch_lease_seconds": "3", "batch_retry_seconds": "2",
                    "shutdown_grace_seconds": "5", "db_pool_max": "8"}


@pytest.fixture(scope="session")
def fault_root() -> Iterator[Path]:
    root = scratch_dir()
    yield root
    if os.environ.get("ONSHI_KEEP_FAULT_LOGS"):  # to read the servers' and services' logs after a failure
        print(f"fault test logs kept in {root}")
    else:
        remove(root)


@pytest.fixture(scope="session")
def postgres(fault_root: Path) -> Iterator[Postgres]:
    """A PostgreSQL of these tests alone (restarted by them)."""
    server = Postgres(fault_root / "pg")
    server.root.mkdir()
    server.init()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_redis(fault_root: Path) -> Iterator[Redis]:
    """A Redis of these tests alone (stopped and started by them)."""
    server = Redis(fault_root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_service(
    postgres: Postgres, fault_redis: Redis, fault_root: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Service]]:
    """Make (not start) a service process on the fault servers; every one made is stopped after the test."""
    made: list[Service] = []

    def make() -> Service:
        root = fault_root / f"{request.node.name}-{len(made)}"
        root.mkdir()
        service = Service(root, database_url=postgres.url, redis_url=fault_redis.url, **SERVICE_SETTINGS)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


@pytest.fixture
async def fault_db(postgres: Postgres) -> AsyncIterator[asyncpg.Connection]:
    """A connection (as the service's: JSON codecs) to the fault tests' database, for setting up; a restart
    cuts it, so use it before any fault."""
    pool = await create_pool(postgres.url, min_size=1, max_size=1)
    async with pool.acquire() as conn:
        yield conn
    await pool.close()
