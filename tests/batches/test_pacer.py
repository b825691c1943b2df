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
from service.batches.worker import BatchWorker, Pacer
from service.core.middleware import serving_requests
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
    assert serving_requests()  # the upload was just answered
    paced = BatchWorker(pool=app.state.pool, settings=settings.model_copy(update={"batch_share_under_load": 0.5}),
                        sinks=batch_sinks())
    assert await paced.run_once()
    assert [p.rest_per_second for p in made] == [1.0]
    # 120 rows in steps of 50: at least three validations and three applications, each followed by its rest
    assert len(rests.asked) >= 6
    assert all(seconds > 0 for seconds in rests.asked)
    status = await conn.fetchrow("SELECT status, rows_accepted FROM batches")
    assert (status["status"], status["rows_accepted"]) == ("done", 120)
