"""A terminal may ask for only so many challenges (ONSHI_RATE_LIMIT_CHALLENGES): beyond, 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.core.rates import Rate
from service.verification.challenges import ChallengeStore
from tests.factories import bearer, make_terminal


@pytest.fixture
def five_a_minute(app: FastAPI) -> Iterator[None]:
    """The app's challenge store, with a limit of 5 a minute per terminal for this test."""
    usual: ChallengeStore = app.state.challenges
    app.state.challenges = ChallengeStore(usual.redis, ttl_seconds=usual.ttl_seconds, limit=Rate.parse("5/1m"))
    yield
    app.state.challenges = usual


async def test_a_terminal_over_its_limit_gets_429_and_others_do_not(
    client: httpx.AsyncClient, conn: asyncpg.Connection, five_a_minute: None
) -> None:
    busy, quiet = await make_terminal(conn), await make_terminal(conn)
    answers = [await client.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(busy["token"]))
               for _ in range(7)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited"
    assert "challenges" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 12  # the next one is allowed a fifth of a minute later
    assert refused.headers["X-Request-ID"]
    other = await client.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(quiet["token"]))
    assert other.status_code == 201


async def test_a_refused_challenge_is_not_stored(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI, five_a_minute: None
) -> None:
    terminal = await make_terminal(conn)
    for _ in range(6):
        await client.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(terminal["token"]))
    stored = [key async for key in app.state.redis.scan_iter(match=f"onshi:challenge:{{{terminal['terminal_id']}}}:*")]
    assert len(stored) == 5
