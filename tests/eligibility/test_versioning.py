"""Eligibility records are versioned: a later upload or a terminate adds a version and never destroys one."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx

from service.batches import service as batches
from service.batches.worker import BatchWorker
from tests.factories import eligibility_csv, eligibility_row, make_insurer, upload_and_wait


async def _versions(conn: asyncpg.Connection, record_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT version, action, address, disqualified_on, is_current FROM eligibility_records "
        "WHERE record_id = $1 ORDER BY version", record_id,
    ))


async def test_change_adds_a_version_and_keeps_history(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="V1")]))
    moved = eligibility_row(record_id="V1", address="新宿区西新宿2-8-1")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([moved]))
    assert status["rows_accepted"] == 1
    versions = await _versions(conn, "V1")
    assert [(v["version"], v["address"], v["is_current"]) for v in versions] == [
        (1, "千代田区霞が関1-2-3", False), (2, "新宿区西新宿2-8-1", True),
    ]


async def test_identical_reupload_adds_no_version(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    body = eligibility_csv([eligibility_row(record_id="same")])
    await upload_and_wait(client, insurer=insurer, body=body, key="a")
    status = await upload_and_wait(client, insurer=insurer, body=body, key="b")
    assert status["rows_accepted"] == 1
    assert len(await _versions(conn, "same")) == 1


async def test_terminate_sets_the_disqualification_date_as_a_new_version(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="T1")]))
    terminate = {"record_id": "T1", "action": "terminate", "disqualified_on": "2026-10-01"}
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([terminate]))
    assert status["rows_accepted"] == 1, status["errors"]
    versions = await _versions(conn, "T1")
    assert [(v["version"], v["action"], v["disqualified_on"]) for v in versions] == [
        (1, "upsert", None), (2, "terminate", date(2026, 10, 1)),
    ]
    assert versions[1]["address"] == versions[0]["address"]  # the rest of the record is carried over


async def test_terminate_errors(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="T2")]))
    rows = [
        {"record_id": "nobody", "action": "terminate", "disqualified_on": "2026-10-01"},
        {"record_id": "T2", "action": "terminate", "disqualified_on": "2019-01-01"},  # before 資格取得日
        {"record_id": "T2", "action": "terminate", "disqualified_on": ""},
    ]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    errors = {(e["row"], e["field"], e["error"]) for e in status["errors"]}
    assert errors == {
        (1, "record_id", "unknown_record"), (2, "disqualified_on", "date_order"),
        (3, "disqualified_on", "missing_field"),
    }
    assert len(await _versions(conn, "T2")) == 1


async def test_same_record_twice_in_one_batch_applies_in_file_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    rows = [
        eligibility_row(record_id="D1"),
        {"record_id": "D1", "action": "terminate", "disqualified_on": "2025-04-01"},
        eligibility_row(record_id="D1", copay_ratio="20"),
    ]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    assert status["rows_accepted"] == 3
    versions = await conn.fetch(
        "SELECT version, action, disqualified_on, copay_ratio FROM eligibility_records WHERE record_id = 'D1' "
        "ORDER BY version"
    )
    assert [tuple(v.values()) for v in versions] == [
        (1, "upsert", None, 30), (2, "terminate", date(2025, 4, 1), 30), (3, "upsert", None, 20),
    ]


async def test_a_crashed_batch_resumes_after_its_last_committed_row(
    client: httpx.AsyncClient, conn: asyncpg.Connection, batch_worker: BatchWorker
) -> None:
    insurer = await make_insurer(conn)
    rows = [eligibility_row(record_id=f"C{i:03d}") for i in range(1, 121)]

    async def body():  # type: ignore[no-untyped-def]
        yield eligibility_csv(rows)

    upload = batches.Upload(kind="eligibility", owner=f"insurer:{insurer['insurer_number']}",
                            insurer_number=insurer["insurer_number"], idempotency_key="crash",
                            content_type="text/csv", content_length=None)
    async with conn.transaction():
        received = await batches.receive(conn, upload=upload, body=body(), max_bytes=1 << 20, chunk_bytes=4096)
        # as if a worker had committed 50 rows (only 40 really landed) and then died
        await conn.execute(
            "UPDATE batches SET status = 'running', rows_processed = 50, rows_accepted = 50, "
            "lease_until = now() - interval '1 hour' WHERE id = $1", received.batch_id,
        )
    # the worker sees a running batch whose lease ran out and takes it over
    assert await batch_worker.run_once()
    status = await conn.fetchrow("SELECT status, rows_processed, rows_accepted FROM batches WHERE id = $1",
                                 received.batch_id)
    assert tuple(status.values()) == ("done", 120, 120)
    stored = [r["record_id"] for r in await conn.fetch("SELECT record_id FROM eligibility_records ORDER BY 1")]
    assert stored == [f"C{i:03d}" for i in range(51, 121)]  # rows up to 50 are not applied twice
