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


RedisDep = Annotated[Redis, Depends(get_redis)]
