"""Rate limits (429 with Retry-After and the error body): the Redis mechanism, staff login with lockout,
uploads per insurer; scrypt off the event loop, bounded."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from service.core import ratelimit
from service.core.errors import RateLimited, ServiceBusy
from service.core.rates import Rate
from service.core.security import PasswordChecker, hash_password
from tests.factories import bearer, eligibility_csv, eligibility_row, make_facility, make_insurer, make_staff


def test_rates_are_parsed_and_bad_ones_refused() -> None:
    assert Rate.parse("5/15m") == Rate(count=5, period=900.0)
    assert Rate.parse("120/m") == Rate(count=120, period=60.0)
    assert Rate.parse("60/1h").interval_ms == 60_000
    for bad in ("5", "0/1m", "5/15x", "five/1m", "5/0s"):
        with pytest.raises(ValueError):
            Rate.parse(bad)


async def test_a_burst_is_allowed_then_refused_with_the_time_to_wait(app: FastAPI, clean: None) -> None:
    redis: Redis = app.state.redis
    limit = [("test:burst", Rate.parse("3/1m"))]
    assert [(await ratelimit.check(redis, limit)).allowed for _ in range(4)] == [True, True, True, False]
    refused = await ratelimit.check(redis, limit)
    assert not refused.allowed and 0 < refused.retry_after <= 20  # one event per 20 s once the burst is spent
    with pytest.raises(RateLimited) as raised:
        refused.raise_if_refused("too many")
    assert raised.value.status == 429 and int(raised.value.headers["Retry-After"]) >= 1


async def test_peek_counts_nothing_and_several_keys_count_together(app: FastAPI, clean: None) -> None:
    redis: Redis = app.state.redis
    narrow, wide = ("test:narrow", Rate.parse("1/1m")), ("test:wide", Rate.parse("10/1m"))
    for _ in range(5):
        assert (await ratelimit.check(redis, [narrow], peek=True)).allowed
    assert (await ratelimit.check(redis, [narrow, wide])).allowed
    assert not (await ratelimit.check(redis, [narrow, wide])).allowed  # the narrow one refuses...
    assert (await ratelimit.check(redis, [wide])).allowed  # ...and the refused event was not counted on wide
    assert await redis.pttl("onshi:rate:test:narrow") > 0  # keys expire by themselves


async def test_the_script_is_reloaded_after_a_redis_script_flush(app: FastAPI, clean: None) -> None:
    redis: Redis = app.state.redis
    await redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    assert (await ratelimit.check(redis, [("test:flush", Rate.parse("1/1m"))])).allowed
    assert not (await ratelimit.check(redis, [("test:flush", Rate.parse("1/1m"))])).allowed


async def _login(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await client.post("/v1/staff/login", json={"login": login, "password": password})


async def test_wrong_passwords_lock_the_login_even_for_the_right_password(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    staff = await make_staff(conn, facility_code=await make_facility(conn), role="doctor")
    answers = [(await _login(client, staff["login"], "wrong password")).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
    locked = await _login(client, staff["login"], staff["password"])
    assert (locked.status_code, locked.json()["error"]) == (429, "rate_limited")
    assert int(locked.headers["retry-after"]) > 0 and locked.headers["x-request-id"]


async def test_a_login_that_does_not_exist_is_refused_and_locked_alike(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    staff = await make_staff(conn, facility_code=await make_facility(conn), role="doctor")
    existing = [await _login(client, staff["login"], "wrong password") for _ in range(6)]
    unknown = [await _login(client, "nobody-by-this-name", "wrong password") for _ in range(6)]
    assert [r.status_code for r in existing] == [r.status_code for r in unknown] == [401] * 5 + [429]
    assert [r.json() for r in existing[:5]] == [r.json() for r in unknown[:5]]


async def test_a_success_clears_the_failures_of_its_login(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    staff = await make_staff(conn, facility_code=await make_facility(conn), role="doctor")
    for _ in range(4):
        assert (await _login(client, staff["login"], "wrong password")).status_code == 401
    assert (await _login(client, staff["login"], staff["password"])).status_code == 200
    for _ in range(4):  # four more wrong ones are allowed again
        assert (await _login(client, staff["login"], "wrong password")).status_code == 401


async def test_wrong_passwords_are_limited_per_client_address(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"rate_limit_login_address": "3/5m"})
    try:
        answers = [(await _login(client, f"someone-{n}", "wrong password")).status_code for n in range(4)]
    finally:
        app.state.settings = app.state.settings.model_copy(update={"rate_limit_login_address": "30/5m"})
    assert answers == [401, 401, 401, 429]  # four different logins, one address


async def test_the_login_page_says_too_many_attempts(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    import re

    staff = await make_staff(conn, facility_code=await make_facility(conn), role="doctor")
    for _ in range(5):
        await _login(client, staff["login"], "wrong password")
    page = await client.get("/viewer/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = await client.post("/viewer/login", data={"login": staff["login"], "password": staff["password"],
                                                       "csrf_token": token.group(1)})
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert "ログインの試行が多すぎます" in refused.text


async def test_uploads_are_limited_per_insurer(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI
) -> None:
    insurer, other = await make_insurer(conn), await make_insurer(conn)
    app.state.settings = app.state.settings.model_copy(update={"rate_limit_uploads": "2/1h"})

    async def post(who: dict[str, str], key: str) -> httpx.Response:
        return await client.post(f"/v1/insurers/{who['insurer_number']}/eligibility-batches",
                                 content=eligibility_csv([eligibility_row()]),
                                 headers={**bearer(who["token"]), "Idempotency-Key": key, "Content-Type": "text/csv"})

    try:
        answers = [await post(insurer, f"k{n}") for n in range(3)]
        others = await post(other, "k0")
    finally:
        app.state.settings = app.state.settings.model_copy(update={"rate_limit_uploads": "60/1h"})
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json()["error"] == "rate_limited" and int(answers[2].headers["retry-after"]) > 0
    assert others.status_code == 202  # per insurer


async def test_password_checks_leave_the_event_loop_free_and_are_bounded() -> None:
    checker = PasswordChecker(threads=1, max_pending=2)
    stored = hash_password("correct horse")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    running = asyncio.create_task(ticker())
    started = time.perf_counter()
    results = await asyncio.gather(checker.check("wrong", stored), checker.check("correct horse", stored),
                                   return_exceptions=True)
    elapsed = time.perf_counter() - started
    running.cancel()
    assert results == [False, True]
    assert ticks >= elapsed / 0.005 / 4  # the loop kept turning while scrypt ran (it would not, on the loop)
    flood = await asyncio.gather(*(checker.check("wrong", stored) for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, ServiceBusy) for r in flood) == 3 and flood[:2] == [False, False]
    assert await checker.check("anything", None) is False  # an unknown login: the same work, refused
    checker.close()
