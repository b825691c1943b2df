"""The lean Redis client of the challenge store, against the test Redis: replies, errors with redis-py's types,
commands pipelined on a connection answered to the right callers, and a connection that breaks or never answers."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator

import pytest
import redis.exceptions
from redis.asyncio import Redis

from service.core import resp
from service.core.resp import RespClient


@pytest.fixture
async def lean(redis_url: str) -> AsyncIterator[RespClient]:
    client = RespClient(redis_url, connections=2)
    yield client
    await client.aclose()


@pytest.fixture
async def plain(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_getdel_returns_the_value_once(lean: RespClient, plain: Redis) -> None:
    await plain.set("resp-test:once", b"\x00binary\xff")
    assert await lean.getdel("resp-test:once") == b"\x00binary\xff"
    assert await lean.getdel("resp-test:once") is None
    assert await plain.exists("resp-test:once") == 0


async def test_eval_then_evalsha_and_noscript_for_an_unknown_script(lean: RespClient) -> None:
    script = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"
    assert await lean.eval(script, 1, "k", "v", 41) == [b"k", b"v", 42]
    sha = hashlib.sha1(script.encode()).hexdigest()
    assert await lean.evalsha(sha, 1, "k", "w", 1) == [b"k", b"w", 2]
    with pytest.raises(redis.exceptions.NoScriptError):
        await lean.evalsha("0" * 40, 0)


async def test_an_error_reply_is_a_response_error_and_the_connection_stays_usable(lean: RespClient) -> None:
    with pytest.raises(redis.exceptions.ResponseError, match="unknown command"):
        await lean.execute("NO-SUCH-COMMAND")
    for _ in range(4):  # both connections, after the error
        assert await lean.execute("PING") == b"PONG"


async def test_concurrent_commands_each_get_their_own_reply(lean: RespClient, plain: Redis) -> None:
    keys = [f"resp-test:many:{i}" for i in range(300)]
    await plain.mset({key: key.encode() for key in keys})
    replies = await asyncio.gather(*(lean.getdel(key) for key in keys))
    assert replies == [key.encode() for key in keys]


async def test_nobody_listening_is_a_connection_error(redis_url: str) -> None:
    client = RespClient(f"redis://127.0.0.1:{_free_port()}")
    with pytest.raises(redis.exceptions.ConnectionError, match="cannot connect"):
        await client.getdel("anything")
    await client.aclose()


async def test_a_killed_connection_fails_its_waiters_and_the_next_call_reconnects(
    lean: RespClient, plain: Redis
) -> None:
    for _ in range(2):  # name both connections: only they are killed, not the other tests' clients
        await lean.execute("CLIENT", "SETNAME", "resp-test-victim")
    victims = [c["id"] for c in await plain.client_list() if c["name"] == "resp-test-victim"]
    assert len(victims) == 2
    for victim in victims:
        assert await plain.client_kill_filter(_id=victim) == 1
    outcomes = await asyncio.gather(*(lean.execute("PING") for _ in range(4)), return_exceptions=True)
    assert all(o == b"PONG" or isinstance(o, redis.exceptions.ConnectionError) for o in outcomes), outcomes
    assert await lean.execute("PING") == b"PONG"
    assert await lean.execute("PING") == b"PONG"


async def test_a_server_that_never_answers_is_a_timeout_and_the_connection_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # reads everything, answers nothing, until the client hangs up

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(resp, "COMMAND_TIMEOUT", 0.2)
    client = RespClient(f"redis://127.0.0.1:{port}", connections=1)
    with pytest.raises(redis.exceptions.TimeoutError):
        await client.getdel("anything")
    with pytest.raises(redis.exceptions.TimeoutError):  # a new connection, not a reply meant for the first call
        await client.getdel("anything")
    assert len(accepted) == 2
    await client.aclose()
    server.close()
    await server.wait_closed()


async def test_password_and_database_from_the_url_are_sent_first(monkeypatch: pytest.MonkeyPatch) -> None:
    received = bytearray()

    async def fake_redis(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in (b"+OK\r\n", b"+OK\r\n", b"$-1\r\n"):  # AUTH, SELECT, then GETDEL of a missing key
            header = await reader.readline()
            received.extend(header)
            for _ in range(int(header[1:]) * 2):
                received.extend(await reader.readline())
            writer.write(answer)
            await writer.drain()

    server = await asyncio.start_server(fake_redis, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(f"redis://onshi:p%40ss@127.0.0.1:{port}/3", connections=1)
    assert await client.getdel("k") is None
    assert bytes(received).split(b"\r\n")[:10] == [
        b"*3", b"$4", b"AUTH", b"$5", b"onshi", b"$4", b"p@ss", b"*2", b"$6", b"SELECT"]
    await client.aclose()
    server.close()
    await server.wait_closed()


def test_only_plain_redis_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="rediss://"):
        RespClient("rediss://example.test:6380")
