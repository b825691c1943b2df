"""Rate limits in Redis, shared by every instance of the service: one round trip per check.

A limit is "N events per period" (`Rate.parse("5/15m")`), enforced by the generic cell rate algorithm (GCRA):
a burst of N is allowed, then one event every period/N, so a client that keeps over the limit is refused until
the window frees. Each key stores one timestamp (its theoretical arrival time) and expires on its own.

`check` runs one small Lua script (loaded once per Redis, then called by EVALSHA) over one or more keys: the
event is allowed only if every key allows it, and is counted against every key only then. `peek=True` asks
without counting (a login refused before its password is even hashed); `store=(key, value, ms)` also stores a
value when the event is allowed, in the same round trip (a challenge and its terminal's limit). In a Redis
Cluster every key of one call must share a hash slot: tag them (`challenge:{terminal-id}`). Usage:

    verdict = await ratelimit.check(redis, [("upload:insurer:06130017", Rate.parse("60/1h"))])
    verdict.raise_if_refused("too many uploads")          # 429 rate_limited with Retry-After

Keys are namespaced under `onshi:rate:`; pass something that does not hold personal data (a hash of a login).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from service.core.errors import RateLimited
from service.core.rates import Rate
from service.core.redis import RedisClient

_PREFIX = "onshi:rate:"
# KEYS: the limits' keys (then, with mode 'store', the key to store a value at). ARGV[1]: 'count' the event,
# only 'peek', or 'store' (count, and SET the last key to ARGV[#ARGV - 1] for ARGV[#ARGV] ms). ARGV[2i],
# ARGV[2i+1]: the i-th limit's emission interval and period, in ms.
# Returns {allowed (1/0), ms to wait before the next allowed event}.
_GCRA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local mode = ARGV[1]
local limits = #KEYS
if mode == 'store' then limits = limits - 1 end
local wait = 0
local tats = {}
for i = 1, limits do
  local interval = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local next_tat = tat + interval
  local allowed_at = next_tat - period
  if allowed_at > now then wait = math.max(wait, allowed_at - now) end
  tats[i] = next_tat
end
if wait > 0 then return {0, wait} end
if mode ~= 'peek' then
  for i = 1, limits do
    redis.call('SET', KEYS[i], tats[i], 'PX', tats[i] - now)
  end
end
if mode == 'store' then redis.call('SET', KEYS[#KEYS], ARGV[#ARGV - 1], 'PX', ARGV[#ARGV]) end
return {1, 0}
"""
_SHA = hashlib.sha1(_GCRA.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the event may happen, and if not, how long until it may."""

    allowed: bool
    retry_after: float

    def raise_if_refused(self, detail: str) -> None:
        """429 rate_limited with Retry-After (whole seconds, at least 1) when refused."""
        if not self.allowed:
            seconds = max(1, math.ceil(self.retry_after))
            raise RateLimited(f"{detail}: retry in {seconds} s", headers={"Retry-After": str(seconds)})


class ScriptRunner(Protocol):
    """What running the limit script needs: redis-py's clients, or the lean client of the challenge store."""

    async def evalsha(self, sha: str, numkeys: int, *args: Any) -> Any:
        ...

    async def eval(self, script: str, numkeys: int, *args: Any) -> Any:
        ...


async def check(
    redis: RedisClient | ScriptRunner, limits: Sequence[tuple[str, Rate]], *, peek: bool = False,
    store: tuple[str, bytes, int] | None = None,
) -> Verdict:
    """Count one event against every limit if all allow it (only ask with `peek`; with `store=(key, value, ms)`
    also set `key` to `value` for `ms` milliseconds when allowed); one Redis round trip."""
    keys = [_PREFIX + key for key, _ in limits]
    args: list[int | str | bytes] = ["peek" if peek else "store" if store else "count"]
    for _, rate in limits:
        args += [rate.interval_ms, round(rate.period * 1000)]
    if store is not None:
        keys.append(store[0])
        args += [store[1], store[2]]
    try:
        allowed, wait_ms = await redis.evalsha(_SHA, len(keys), *keys, *args)
    except NoScriptError:  # a fresh (or restarted) Redis: EVAL runs the script and caches it for EVALSHA
        allowed, wait_ms = await redis.eval(_GCRA, len(keys), *keys, *args)
    return Verdict(allowed=bool(allowed), retry_after=int(wait_ms) / 1000)


async def reset(redis: RedisClient, key: str) -> None:
    """Forget a key's events (a login that succeeded clears its failures)."""
    await redis.delete(_PREFIX + key)


def subject(*parts: str) -> str:
    """A key part that names a person's identifier (a login) without storing it: its SHA-256, shortened."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
