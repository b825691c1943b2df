"""Portal sessions in Redis: short, opened by a card signature, named by a bearer token stored hashed.

The token goes to the caller (the card holder's local agent), never into a page: the agent keeps it in memory.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from service.core.middleware import note_principal
from service.core.redis import RedisClient, get_redis
from service.core.security import hash_token
from service.portal.errors import PortalSessionRequired

SESSION_SECONDS = 10 * 60  # a short session, as マイナポータル's: sign in with the card again after that
_KEY = "onshi:portal:{}"
_PREFIX = "onh_"
Access = Literal["full", "access_log_only"]


@dataclass(frozen=True, slots=True)
class HolderSession:
    """The holder signed in, by which certificate, allowed to read what."""

    holder_id: int
    serial: str
    access: Access

    @property
    def actor(self) -> str:
        """How the holder is named in audit entries (the certificate serial, never a name)."""
        return f"card:{self.serial}"


def _key(token: str) -> str:
    return _KEY.format(hash_token(token).hex())


async def create(redis: RedisClient, session: HolderSession) -> str:
    """A new session; returns its bearer token."""
    token = f"{_PREFIX}{secrets.token_urlsafe(32)}"
    await redis.set(_key(token), json.dumps(asdict(session)), ex=SESSION_SECONDS)
    return token


async def end(redis: RedisClient, token: str) -> None:
    """Sign out."""
    await redis.delete(_key(token))


def bearer(request: Request) -> str:
    """The portal token of the request (401 when there is none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(_PREFIX) or len(token) > 100:
        raise PortalSessionRequired("sign in with the card first", headers={"WWW-Authenticate": "Bearer"})
    return token


async def current_holder(request: Request) -> HolderSession:
    """The signed-in holder (401 without a live session)."""
    raw = await get_redis(request).get(_key(bearer(request)))
    if raw is None:
        raise PortalSessionRequired("the session ended: sign in with the card again",
                                    headers={"WWW-Authenticate": "Bearer"})
    note_principal(request.scope, "holder")
    return HolderSession(**json.loads(raw))


HolderAuth = Annotated[HolderSession, Depends(current_holder)]
