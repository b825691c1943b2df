"""The batch worker gives way to requests: while the process answers them it works at most its share of the time
(service.batches.worker.Pacer, ONSHI_BATCH_SHARE_UNDER_LOAD); alone it never rests."""

from __future__ import annotations

import asyncpg
import httpx
import pydantic
import pytest
from fastapi import FastAPI

from service.app import batch_sinks
from service.batches import worker as worker_module
from service.batches.worker import BUSY_REQUESTS_PER_SECOND, BatchWorker, Pacer
from service.core.middleware import Traffic, requests_per_second
from service.core.settings import Settings
from tests.factories import eligibility_csv, eligibility_row, make_insurer, upload


class _Rests:
    """A sleep that records what it was asked and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.mark.parametrize(("share", "rest"), [(0.5, 0.2), (0.25, 0.6), (0.8, 0.05)])
async def test_work_is_followed_by_a_rest_that_keeps_the_share(share: float, rest: float) -> None:
    rests = _Rests()
    pacer = Pacer(share, busy=lambda: True, sleep=rests)
    await pacer.rest_after(0.2)
    assert rests.asked == [pytest.approx(rest)]  # worked / (worked + rest) == share


async def test_no_rest_when_no_request_is_being_answered() -> None:
    rests = _Rests()
    await Pacer(0.5, busy=lambda: False, sleep=rests).rest_after(0.2)
    assert rests.asked == []


async def test_a_share_of_one_never_rests() -> None:
    rests = _Rests()
    await Pacer(1.0, busy=lambda: True, sleep=rests).rest_after(0.2)
    assert rests.asked == []


async def test_work_that_fails_is_not_rested_after() -> None:
    rests = _Rests()
    pacer = Pacer(0.5, busy=lambda: True, sleep=rests)
    with pytest.raises(RuntimeError):
        async with pacer.work():
            raise RuntimeError("a step failed")
    assert rests.asked == []
    async with pacer.work():
        pass
    assert len(rests.asked) == 1


@pytest.mark.parametrize("share", [0, -0.5, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(pydantic.ValidationError, match="batch_share_under_load"):
        Settings(batch_share_under_load=share)


async def test_a_batch_uploaded_while_requests_are_answered_is_paced(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rests = _Rests()
    made: list[Pacer] = []

    def pacer(share: float) -> Pacer:
        made.append(Pacer(share, sleep=rests))
        return made[-1]

    monkeypatch.setattr(worker_module, "Pacer", pacer)
    insurer = await make_insurer(conn)
    body = eligibility_csv([eligibility_row(record_id=f"P{i:04d}") for i in range(1, 121)])
    assert (await upload(client, insurer=insurer, body=body)).status_code == 202
    for _ in range(BUSY_REQUESTS_PER_SECOND):  # the traffic of a busy second
        assert (await client.get("/healthz")).status_code == 200
    assert requests_per_second() >= BUSY_REQUESTS_PER_SECOND
    paced = BatchWorker(pool=app.state.pool, settings=settings.model_copy(update={"batch_share_under_load": 0.5}),
                        sinks=batch_sinks())
    assert await paced.run_once()
    assert [p.rest_per_second for p in made] == [1.0]
    # 120 rows in steps of 50: at least three validations and three applications, each followed by its rest
    assert len(rests.asked) >= 6
    assert all(seconds > 0 for seconds in rests.asked)
    status = await conn.fetchrow("SELECT status, rows_accepted FROM batches")
    assert (status["status"], status["rows_accepted"]) == ("done", 120)


@pytest.mark.parametrize(("per_second", "rests_expected"), [(0, 0), (3, 0), (19, 0), (20, 1), (400, 1)])
async def test_only_a_busy_second_makes_the_worker_rest(
    per_second: int, rests_expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a batch's own status polling, a scrape, a few kiosks: not load, the worker keeps its full speed
    monkeypatch.setattr(worker_module, "requests_per_second", lambda: per_second)
    rests = _Rests()
    await Pacer(0.5, sleep=rests).rest_after(0.2)
    assert len(rests.asked) == rests_expected


def test_requests_are_counted_per_whole_second() -> None:
    traffic = Traffic()
    assert traffic.per_second(100.0) == 0
    for moment in (100.1, 100.5, 100.9):
        traffic.count(moment)
    assert traffic.per_second(100.95) == 3  # so far in this second
    traffic.count(101.2)
    assert traffic.per_second(101.3) == 3  # the last whole second had more
    for _ in range(4):
        traffic.count(101.6)
    assert traffic.per_second(101.7) == 5
    assert traffic.per_second(102.4) == 5  # a new second with none yet: the last whole one
    assert traffic.per_second(103.0) == 0  # a quiet second in between
    traffic.count(107.5)
    assert traffic.per_second(107.6) == 1  # the count from before the gap is not carried over
    traffic.count(108.1)
    assert traffic.per_second(108.2) == 1
