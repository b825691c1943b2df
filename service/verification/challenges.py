"""Single-use challenges in Redis, bound to a terminal and a purpose, with a short lifetime.

One round trip each way. The key names the terminal (as a Redis Cluster hash tag, so a terminal's challenges and
its rate limit share a slot) and the purpose: a challenge looked up by another terminal or for another purpose
is simply not found there, and so is refused without being consumed. Issuing is one script (the terminal's rate
limit, `ONSHI_RATE_LIMIT_CHALLENGES`, and the nonce stored when allowed); consuming is GETDEL, so a challenge is
taken exactly once however many requests race for it.
"""

from __future__ import annotations

import base64
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from service.core import ratelimit
from service.core.clock import clock
from service.core.rates import Rate
from service.core.redis import RedisClient
from service.core.resp import RespClient
from service.verification.errors import ChallengeExpired, ChallengeNotUsable

PURPOSES = ("verify", "register", "unregister", "access_log", "withdraw_consent")
NONCE_BYTES = 32
_EXPIRES = struct.Struct(">Q")  # milliseconds since the epoch, before the nonce in the stored value
_GRACE_SECONDS = 5  # Redis forgets a challenge this long after it expired; the lifetime itself is checked here


def _key(terminal_id: str, purpose: str, challenge_id: str) -> str:
    return f"onshi:challenge:{{{terminal_id}}}:{purpose}:{challenge_id}"


def _limit_key(terminal_id: str) -> str:
    return f"challenge:{{{terminal_id}}}"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A nonce for a card to sign."""

    challenge_id: str
    nonce: bytes
    expires_at: datetime

    @property
    def nonce_b64(self) -> str:
        """The nonce as the contract sends it."""
        return base64.b64encode(self.nonce).decode()


class ChallengeStore:
    """Issues and consumes challenges in one Redis (or Redis Cluster), built once in the app's lifespan."""

    def __init__(self, redis: RedisClient | RespClient, *, ttl_seconds: int, limit: Rate) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.limit = limit

    async def issue(self, *, terminal_id: str, purpose: str) -> Challenge:
        """A fresh nonce for this terminal and purpose; 429 when the terminal asks for too many."""
        challenge = Challenge(
            challenge_id=str(uuid.uuid4()), nonce=secrets.token_bytes(NONCE_BYTES),
            expires_at=clock.now() + timedelta(seconds=self.ttl_seconds),
        )
        value = _EXPIRES.pack(int(challenge.expires_at.timestamp() * 1000)) + challenge.nonce
        verdict = await ratelimit.check(
            self.redis, [(_limit_key(terminal_id), self.limit)],
            store=(_key(terminal_id, purpose, challenge.challenge_id), value,
                   (self.ttl_seconds + _GRACE_SECONDS) * 1000),
        )
        verdict.raise_if_refused(f"this terminal asked for more than {self.limit.count} challenges in "
                                 f"{self.limit.period:g} s")
        return challenge

    async def consume(self, *, challenge_id: str, terminal_id: str, purpose: str) -> bytes:
        """The nonce of a usable challenge, which can never be used again."""
        try:
            uuid.UUID(challenge_id)
        except ValueError:
            raise ChallengeNotUsable("unknown challenge_id") from None
        value: bytes | None = await self.redis.getdel(_key(terminal_id, purpose, challenge_id))  # type: ignore[assignment]
        if value is None:
            raise ChallengeNotUsable("the challenge is unknown, expired or already used, or was issued to another "
                                     "terminal or for another purpose: request a new one")
        (expires_ms,) = _EXPIRES.unpack_from(value)
        if expires_ms < clock.now().timestamp() * 1000:
            raise ChallengeExpired("the challenge expired: request a new one")
        return value[_EXPIRES.size:]


async def _challenge_store(request: Request) -> ChallengeStore:
    store: ChallengeStore = request.app.state.challenges
    return store


ChallengesDep = Annotated[ChallengeStore, Depends(_challenge_store)]
