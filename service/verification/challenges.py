"""Single-use challenges in Redis, bound to a terminal and a purpose, with a short lifetime."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from service.core.clock import clock
from service.verification.errors import ChallengeExpired, ChallengeNotUsable

PURPOSES = ("verify", "register", "unregister", "access_log", "withdraw_consent")
NONCE_BYTES = 32
_KEY = "onshi:challenge:{}"
# Atomically: refuse a challenge of another terminal or purpose without consuming it; otherwise take it.
_CONSUME = """
local v = redis.call('HMGET', KEYS[1], 'terminal', 'purpose', 'nonce', 'expires')
if not v[1] then return {0} end
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return {1} end
redis.call('DEL', KEYS[1])
return {2, v[3], v[4]}
"""


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


async def issue(redis: Redis, *, terminal_id: str, purpose: str, ttl_seconds: int) -> Challenge:
    """A fresh nonce for this terminal and purpose."""
    challenge = Challenge(
        challenge_id=str(uuid.uuid4()), nonce=secrets.token_bytes(NONCE_BYTES),
        expires_at=clock.now() + timedelta(seconds=ttl_seconds),
    )
    key = _KEY.format(challenge.challenge_id)
    mapping = {"terminal": terminal_id, "purpose": purpose, "nonce": challenge.nonce,
               "expires": str(challenge.expires_at.timestamp())}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        pipe.expire(key, ttl_seconds + 5)  # Redis forgets it soon after; the lifetime itself is checked below
        await pipe.execute()
    return challenge


async def consume(redis: Redis, *, challenge_id: str, terminal_id: str, purpose: str) -> bytes:
    """The nonce of a usable challenge, which can never be used again."""
    try:
        uuid.UUID(challenge_id)
    except ValueError:
        raise ChallengeNotUsable("unknown challenge_id") from None
    found = await redis.eval(_CONSUME, 1, _KEY.format(challenge_id), terminal_id, purpose)
    if found[0] == 0:
        raise ChallengeNotUsable("the challenge is unknown, expired or already used: request a new one")
    if found[0] == 1:
        raise ChallengeNotUsable("the challenge belongs to another terminal or purpose")
    if float(found[2]) < clock.now().timestamp():
        raise ChallengeExpired("the challenge expired: request a new one")
    return bytes(found[1])
