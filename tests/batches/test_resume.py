"""A batch that failed (a non-transient error) keeps its committed rows and resumes when the insurer uploads the
same body again with the same Idempotency-Key."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import httpx
import pytest

from service.eligibility.service import EligibilitySink
from tests.factories import eligibility_csv, eligibility_row, make_insurer, upload, wait_for_batch

ROWS = 200


@pytest.fixture
def step_failing_once() -> Iterator[list[int]]:
    """The eligibility sink raises a bug once, on the step that holds row 101 (steps are 50 rows in tests)."""
    original = EligibilitySink.apply
    failed: list[int] = []

    async def apply(self: Any, conn: asyncpg.Connection, *, batch: Any, rows: Sequence[tuple[int, Any]]) -> Any:
        if not failed and any(row == 101 for row, _ in rows):
            failed.append(101)
            raise RuntimeError("a bug in step 3")
        return await original(self, conn, batch=batch, rows=rows)

    EligibilitySink.apply = apply  # type: ignore[method-assign]
    yield failed
    EligibilitySink.apply = original  # type: ignore[method-assign]


async def test_a_failed_batch_resumes_after_its_last_committed_row(
    client: httpx.AsyncClient, conn: asyncpg.Connection, step_failing_once: list[int]
) -> None:
    insurer = await make_insurer(conn)
    body = eligibility_csv([eligibility_row(record_id=f"F{i:04d}") for i in range(1, ROWS + 1)])
    first = await upload(client, insurer=insurer, body=body, key="monthly-2026-11")
    failed = await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"])
    assert (failed["status"], failed["rows_processed"], failed["rows_accepted"]) == ("failed", 100, 100)
    assert "same Idempotency-Key" in failed["failure"] and "row 100" in failed["failure"]
    assert step_failing_once == [101]

    other = await upload(client, insurer=insurer, body=body + b"X", key="monthly-2026-11")
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_conflict")
    assert (await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"]))["status"] == "failed"

    again = await upload(client, insurer=insurer, body=body, key="monthly-2026-11")
    assert (again.status_code, again.json()["batch_id"]) == (202, first.json()["batch_id"])
    done = await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"])
    assert (done["status"], done["failure"], done["rows_total"], done["rows_accepted"], done["rows_rejected"]) == (
        "done", None, ROWS, ROWS, 0)
    stored, distinct = await conn.fetchrow(
        "SELECT count(*), count(DISTINCT record_id) FROM eligibility_records WHERE insurer_number = $1",
        insurer["insurer_number"])
    assert (stored, distinct) == (ROWS, ROWS)  # rows 1-100 were not applied twice
    assert await conn.fetchval("SELECT count(*) FROM batch_chunks") == 0  # the body is gone once processed


async def test_a_header_rejected_batch_fails_again_without_doubling_its_errors(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    body = b"record_id,nonsense\nA,1\n"
    first = await upload(client, insurer=insurer, body=body, key="bad-header")
    status = await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"])
    errors = [(e["row"], e["field"], e["error"]) for e in status["errors"]]
    assert status["status"] == "failed" and errors and all(row == 0 for row, _, _ in errors)
    await upload(client, insurer=insurer, body=body, key="bad-header")
    again = await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"])
    assert again["status"] == "failed"
    assert [(e["row"], e["field"], e["error"]) for e in again["errors"]] == errors
