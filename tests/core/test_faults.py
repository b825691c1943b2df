"""Outages answer 503 with Retry-After, other unhandled errors a logged 500, both with the request id; transient
faults are recognised and retried (the fault tests in tests/faults/ do the same against real restarts)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import redis.exceptions
from fastapi import FastAPI

from service.app import attach, create_app
from service.core.faults import RetriesExhausted, is_transient, retry_transient
from service.core.redis import create_redis
from service.core.resp import RespClient
from service.core.settings import Settings
from service.core.tasks import cancel_and_wait
from tests.factories import bearer, make_insurer, make_terminal


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """What the service logs meanwhile, as its JSON lines (start it after create_app: that resets logging)."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _outage_app(app: FastAPI, settings: Settings, *, pool: asyncpg.Pool | None = None,
                redis_down: bool = False) -> FastAPI:
    """The service on another pool (one on a dead port) or with its Redis unreachable (nobody listens: both the
    redis-py client and the challenge store's lean client)."""
    broken = create_app(settings)
    broken.state.settings = settings
    broken.state.authority = app.state.authority
    dead_redis = f"redis://127.0.0.1:{_free_port()}"
    attach(broken, settings=settings, pool=pool or app.state.pool,
           redis=create_redis(dead_redis) if redis_down else app.state.redis,
           lean_url=dead_redis if redis_down else None)
    return broken


@pytest.fixture
async def dead_pool() -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(f"postgresql://onshi@127.0.0.1:{_free_port()}/onshi", min_size=0, max_size=2)
    assert pool is not None
    yield pool
    await pool.close()


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")


async def test_a_database_outage_is_503_with_retry_after(
    app: FastAPI, settings: Settings, dead_pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    broken = _outage_app(app, settings, pool=dead_pool)
    with captured_logs() as logs:
        async with _client(broken) as client:
            response = await client.get(f"/v1/insurers/{insurer['insurer_number']}/link-reviews",
                                        headers={**bearer(insurer["token"]), "X-Request-ID": "outage-1"})
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable" and response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["x-request-id"] == "outage-1"
    logged = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(e["event"] == "dependency unavailable" and e.get("request_id") == "outage-1" for e in logged)


async def test_a_redis_outage_is_503_with_retry_after(
    app: FastAPI, settings: Settings, conn: asyncpg.Connection
) -> None:
    terminal = await make_terminal(conn)
    broken = _outage_app(app, settings, redis_down=True)
    assert isinstance(broken.state.challenges.redis, RespClient)  # the hot path's client, not redis-py
    async with _client(broken) as client:
        response = await client.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(terminal["token"]))
    await broken.state.challenges.redis.aclose()
    await broken.state.redis.aclose()
    assert (response.status_code, response.json()["error"]) == (503, "service_unavailable")
    assert response.headers["retry-after"] and response.headers["x-request-id"]


async def test_an_unexpected_error_is_a_500_logged_with_its_traceback_and_request_id(
    app: FastAPI, settings: Settings
) -> None:
    broken = _outage_app(app, settings)

    @broken.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    with captured_logs() as logs:
        async with _client(broken) as client:
            response = await client.get("/boom", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert response.headers["x-request-id"] == "bug-1"
    logged = [json.loads(line) for line in logs.getvalue().splitlines()]
    entry = next(e for e in logged if e["event"] == "unhandled error")
    assert entry["request_id"] == "bug-1"
    assert "Traceback" in entry["exception"] and "RuntimeError: a bug" in entry["exception"]


async def test_the_method_label_of_http_metrics_is_bounded(client: httpx.AsyncClient) -> None:
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        await client.request(method, "/healthz")
    exposed = (await client.get("/metrics")).text
    assert 'method="other"' in exposed
    assert "BREW" not in exposed and "PROPFIND" not in exposed


def test_transient_faults_are_told_from_bugs() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(asyncpg.exceptions.AdminShutdownError())
    assert is_transient(asyncpg.exceptions.CannotConnectNowError())
    assert is_transient(asyncpg.exceptions.DeadlockDetectedError())
    assert is_transient(redis.exceptions.ConnectionError())
    # what asyncpg raises when the server closes a connection between two queries of a transaction
    assert is_transient(asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"))
    assert is_transient(asyncpg.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"))
    assert not is_transient(asyncpg.InterfaceError("cannot perform operation: another operation is in progress"))
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    assert is_transient(OSError("Multiple exceptions: [Errno 111] Connect call failed"))
    assert not is_transient(FileNotFoundError("a template"))  # an OSError, but a bug: 500, not 503
    assert not is_transient(ValueError())
    assert not is_transient(asyncpg.exceptions.UniqueViolationError())
    assert not is_transient(asyncpg.exceptions.DataError())


async def test_retry_transient_retries_faults_only_and_gives_up_after_its_budget() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionResetError()
        return "done"

    assert await retry_transient(flaky, what="flaky", budget_seconds=5, first_delay=0.01) == "done"
    assert calls == 3

    async def down() -> None:
        raise ConnectionRefusedError()

    with pytest.raises(RetriesExhausted):
        await retry_transient(down, what="down", budget_seconds=0.1, first_delay=0.02)

    async def bug() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug is not retried")

    calls = 0
    with pytest.raises(ValueError):
        await retry_transient(bug, what="bug", budget_seconds=5, first_delay=0.01)
    assert calls == 1


async def test_a_cancelled_retry_stops_at_once() -> None:
    async def down() -> None:
        raise ConnectionRefusedError()

    task = asyncio.create_task(retry_transient(down, what="down", budget_seconds=60, first_delay=0.05))
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _raised_in(filename: str, exc: BaseException) -> BaseException:
    """`exc` as raised by code of `filename` (its traceback names that file)."""
    try:
        exec(compile("raise exc", filename, "exec"), {"exc": exc})
    except BaseException as raised:
        return raised
    raise AssertionError("unreachable")


def test_a_redis_connection_torn_down_under_a_write_is_transient() -> None:
    # redis/redis-py#4287: the transport's own error leaks out of a write to a connection the peer just closed
    redis_module = "/venv/site-packages/redis/asyncio/connection.py"
    assert is_transient(_raised_in(redis_module, AttributeError("'NoneType' object has no attribute 'writelines'")))
    assert is_transient(_raised_in(redis_module, TypeError("'NoneType' object is not callable")))
    closed = "unable to perform operation on <TCPTransport closed=True reading=False 0x5573>; the handler is closed"
    assert is_transient(_raised_in(redis_module, RuntimeError(closed)))  # uvloop's word for it
    assert not is_transient(_raised_in("/work/service/x.py", RuntimeError(closed)))
    assert not is_transient(_raised_in(redis_module, RuntimeError("Event loop is closed")))
    assert not is_transient(_raised_in("/work/service/x.py", AttributeError("'NoneType' object has no attribute 'x'")))
    assert not is_transient(_raised_in(redis_module, AttributeError("'Foo' object has no attribute 'bar'")))


async def test_cancel_and_wait_ends_a_task_and_raises_what_it_failed_with() -> None:
    cleaned_up = asyncio.Event()

    async def background() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned_up.set()

    running = asyncio.create_task(background())
    await asyncio.sleep(0)
    await cancel_and_wait(running)
    assert running.cancelled() and cleaned_up.is_set()
    await cancel_and_wait(None)  # nothing was started

    async def broken() -> None:
        raise ValueError("bug")

    failed = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="bug"):
        await cancel_and_wait(failed)
