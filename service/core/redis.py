"""The Redis client, built in the lifespan and handed out as a dependency: one Redis, or a Redis Cluster.

Connections come from a bounded pool that waits (up to `POOL_TIMEOUT` s) for a free connection instead of failing
when a burst needs more than `max_connections` at once; a Redis that cannot be reached is an outage (503).
In a cluster, every multi-key command and script touches keys of one hash slot (the keys carry a `{tag}`): a
terminal's challenges and its rate limit share `{terminal-id}`, login limits share `{login}`.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from fastapi import Depends, Request
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

RedisClient: TypeAlias = Redis | RedisCluster
POOL_TIMEOUT = 5.0


def create_redis(url: str, *, cluster: bool = False, max_connections: int = 64) -> RedisClient:
    """A client for `redis://`, `rediss://` or `unix://` URLs; with `cluster`, a Redis Cluster client that finds
    every node from the one the URL names and follows slots as they move (a failover included)."""
    if cluster:
        return RedisCluster.from_url(url, decode_responses=False, max_connections=max_connections)
    pool = BlockingConnectionPool.from_url(url, decode_responses=False, health_check_interval=30,
                                           max_connections=max_connections, timeout=POOL_TIMEOUT)
    return Redis(connection_pool=pool)


def get_redis(request: Request) -> RedisClient:
    """The application's Redis client."""
    client: RedisClient = request.app.state.redis
    return client


async def _redis_dependency(request: Request) -> RedisClient:
    """get_redis as a dependency: async, because FastAPI runs a plain `def` dependency in its thread pool."""
    return get_redis(request)


RedisDep = Annotated[RedisClient, Depends(_redis_dependency)]
