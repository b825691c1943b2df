"""The Redis client, built in the lifespan and handed out as a dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    """A client for `redis://`, `rediss://` or `unix://` URLs."""
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)


def get_redis(request: Request) -> Redis:
    """The application's Redis client."""
    client: Redis = request.app.state.redis
    return client


async def _redis_dependency(request: Request) -> Redis:
    """get_redis as a dependency: async, because FastAPI runs a plain `def` dependency in its thread pool."""
    return get_redis(request)


RedisDep = Annotated[Redis, Depends(_redis_dependency)]
