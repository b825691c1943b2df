"""A lean Redis client for the reception hot path: a few pipelined connections to one Redis node.

redis-py spends about 230,000 instructions on a GET (its connection pool, retry wrapper and stream reader); this
client spends about 23,000: commands are written as soon as they are called, replies are parsed by hiredis as they
arrive and handed to the callers in order (Redis answers a connection's commands in order). It speaks only what
the challenge store needs (GETDEL, EVALSHA, EVAL) to a single node; a Redis Cluster, and everything else in the
service (sessions, login limits, /readyz), use redis-py.

Errors keep redis-py's types, so the service maps them as it does elsewhere: a connection that cannot be made or
breaks is `redis.exceptions.ConnectionError` (every command waiting on it fails with it, the next call reconnects:
a 503 for the caller, never a hang), a reply that is an error is `ResponseError` (`NoScriptError` for NOSCRIPT).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from urllib.parse import unquote, urlsplit

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 5.0
Arg = bytes | str | int


def _encode(args: tuple[Arg, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One connection: commands in flight, answered in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future[object]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"the connection to Redis was lost: {exc or 'closed by the server'}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def send(self, payload: bytes) -> asyncio.Future[object]:
        if self.lost is not None:
            raise self.lost
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        assert self.transport is not None
        self.transport.write(payload)
        return future


class RespClient:
    """`connections` pipelined connections to the Redis node of a `redis://` or `unix://` URL."""

    def __init__(self, url: str, *, connections: int = 2) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "unix"):
            raise ValueError("the lean Redis client speaks redis:// and unix:// (rediss:// goes through redis-py)")
        self._unix = unquote(parts.path) if parts.scheme == "unix" else None
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 6379
        self._password = unquote(parts.password) if parts.password else None
        self._username = unquote(parts.username) if parts.username else None
        self._db = int(parts.path.strip("/") or 0) if parts.scheme == "redis" else 0
        self._slots: list[_Connection | None] = [None] * connections
        self._opening: list[asyncio.Lock] = [asyncio.Lock() for _ in range(connections)]
        self._next = itertools.cycle(range(connections))

    async def _connection(self) -> _Connection:
        index = next(self._next)
        connection = self._slots[index]
        if connection is not None and connection.lost is None:
            return connection
        async with self._opening[index]:
            connection = self._slots[index]
            if connection is None or connection.lost is not None:
                connection = self._slots[index] = await self._open()
        return connection

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if self._unix is not None:
                opening = loop.create_unix_connection(_Connection, self._unix)
            else:
                opening = loop.create_connection(_Connection, self._host, self._port)
            _, connection = await asyncio.wait_for(opening, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        for setup in self._setup():
            self._check(await asyncio.wait_for(connection.send(_encode(setup)), COMMAND_TIMEOUT))
        return connection

    def _setup(self) -> list[tuple[Arg, ...]]:
        """AUTH (with the ACL user when the URL names one) and SELECT, as the URL asks."""
        commands: list[tuple[Arg, ...]] = []
        if self._password:
            commands.append(("AUTH", self._username, self._password) if self._username else ("AUTH", self._password))
        if self._db:
            commands.append(("SELECT", self._db))
        return commands

    @staticmethod
    def _check(reply: object) -> object:
        if isinstance(reply, hiredis.ReplyError):
            message = str(reply)
            raise NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)
        return reply

    async def execute(self, *args: Arg) -> object:
        """One command's reply (bytes, int, list or None)."""
        connection = await self._connection()
        future = connection.send(_encode(args))
        try:
            return self._check(await asyncio.wait_for(future, COMMAND_TIMEOUT))
        except TimeoutError as exc:  # the connection is in an unknown state: drop it, the next call reconnects
            connection.lost = RedisConnectionError("Redis did not answer in time: the connection was dropped")
            if connection.transport is not None:
                connection.transport.abort()
            raise RedisTimeoutError("Redis did not answer in time") from exc

    async def getdel(self, key: str) -> bytes | None:
        """GETDEL: the value, which nobody can read again."""
        reply = await self.execute("GETDEL", key)
        return reply if isinstance(reply, bytes) else None

    async def evalsha(self, sha: str, numkeys: int, *args: Arg) -> object:
        """EVALSHA (NoScriptError when the node has not loaded the script)."""
        return await self.execute("EVALSHA", sha, numkeys, *args)

    async def eval(self, script: str, numkeys: int, *args: Arg) -> object:
        """EVAL (the node caches the script for EVALSHA)."""
        return await self.execute("EVAL", script, numkeys, *args)

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._slots:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
        self._slots = [None] * len(self._slots)
