"""Single-use challenges in Redis, bound to a terminal and a purpose, with a short lifetime.

One round trip each way. The key names the terminal (as a Redis Cluster hash tag, so a terminal's challenges and
its rate counter share a slot) and the purpose: a challenge looked up by another terminal or for another purpose
is simply not found there, and so is refused without being consumed. Issuing is one script (count the terminal's
challenges in the current window, refuse beyond the limit, store the nonce); consuming is GETDEL, so a challenge
is taken exactly once however many requests race for it.
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
from redis.asyncio import Redis

from service.core.clock import clock
from service.core.errors import RateLimited
from service.verification.errors import ChallengeExpired, ChallengeNotUsable

PURPOSES = ("verify", "register", "unregister", "access_log", "withdraw_consent")
NONCE_BYTES = 32
_EXPIRES = struct.Struct(">Q")  # milliseconds since the epoch, before the nonce in the stored value
_GRACE_SECONDS = 5  # Redis forgets a challenge this long after it expired; the lifetime itself is checked here
# KEYS: the challenge, the terminal's counter of this window. ARGV: value, time to live (ms), limit, window (ms).
# Returns 0 when stored, or the milliseconds until the window ends when the terminal is over its limit.
_ISSUE = """
local issued = redis.call('INCR', KEYS[2])
if issued == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
if issued > tonumber(ARGV[3]) then
  local left = redis.call('PTTL', KEYS[2])
  if left < 1 then left = 1 end
  return left
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
"""


def _key(terminal_id: str, purpose: str, challenge_id: str) -> str:
    return f"onshi:challenge:{{{terminal_id}}}:{purpose}:{challenge_id}"


def _counter_key(terminal_id: str) -> str:
    return f"onshi:challenge-rate:{{{terminal_id}}}"


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


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` challenges per terminal in each window of `seconds`."""

    count: int
    seconds: float


class ChallengeStore:
    """Issues and consumes challenges in one Redis (or Redis Cluster), built once in the app's lifespan."""

    def __init__(self, redis: Redis, *, ttl_seconds: int, limit: Limit) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.limit = limit
        self._issue = redis.register_script(_ISSUE)  # EVALSHA, loading the script where a node lacks it

    async def issue(self, *, terminal_id: str, purpose: str) -> Challenge:
        """A fresh nonce for this terminal and purpose; 429 when the terminal asks for too many."""
        challenge = Challenge(
            challenge_id=str(uuid.uuid4()), nonce=secrets.token_bytes(NONCE_BYTES),
            expires_at=clock.now() + timedelta(seconds=self.ttl_seconds),
        )
        value = _EXPIRES.pack(int(challenge.expires_at.timestamp() * 1000)) + challenge.nonce
        wait_ms = await self._issue(
            keys=[_key(terminal_id, purpose, challenge.challenge_id), _counter_key(terminal_id)],
            args=[value, (self.ttl_seconds + _GRACE_SECONDS) * 1000, self.limit.count,
                  int(self.limit.seconds * 1000)],
        )
        if int(wait_ms) > 0:
            seconds = max(1, -(-int(wait_ms) // 1000))
            raise RateLimited(f"this terminal asked for more than {self.limit.count} challenges in "
                              f"{self.limit.seconds:g} s: try again in {seconds} s",
                              headers={"Retry-After": str(seconds)})
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
