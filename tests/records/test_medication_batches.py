"""Medication batches (薬剤情報) from claims processors: upload, row errors, idempotency, versions, isolation, reads."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from service.core.clock import clock
from service.records.service import InsuredNumber, medications_for
from tests.factories import (
    MEDICATION_HEADER,
    bearer,
    insurer_number,
    make_claims_processor,
    make_insurer,
    medication_csv,
    medication_row,
    post_batch,
    post_batch_and_wait,
)

URL = "/v1/claims/medication-batches"


async def _upload(client: httpx.AsyncClient, processor: dict[str, str], body: bytes, **kw: Any) -> dict[str, Any]:
    return await post_batch_and_wait(client, url=URL, token=processor["token"], body=body, **kw)


async def _versions(conn: asyncpg.Connection, record_id: str) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT version, quantity, number, is_current FROM medication_records WHERE record_id = $1 ORDER BY version",
        record_id,
    )
    return [tuple(r.values()) for r in rows]


async def test_valid_csv_is_stored(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    rows = [
        medication_row(record_id="m-1", quantity="1.5", days="14"),
        medication_row(record_id="m-2", days=""),  # days is optional (頓服)
        medication_row(record_id="m-3", drug_code="2149039f1020", facility_code="９９１２３４５６７８"),
    ]
    status = await _upload(client, processor, medication_csv(rows))
    assert status["status"] == "done", status
    assert (status["kind"], status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (
        "medication", 3, 3, 0,
    )
    stored = await conn.fetch(
        "SELECT record_id, claims_processor_id::text AS processor, quantity, days, drug_code, facility_code, "
        "version, is_current FROM medication_records ORDER BY record_id"
    )
    assert [tuple(r.values()) for r in stored] == [
        ("m-1", processor["claims_processor_id"], Decimal("1.5"), 14, "2149039F1020", "1312345678", 1, True),
        ("m-2", processor["claims_processor_id"], Decimal("1"), None, "2149039F1020", "1312345678", 1, True),
        ("m-3", processor["claims_processor_id"], Decimal("1"), 28, "2149039F1020", "9912345678", 1, True),
    ]
    assert await conn.fetchval("SELECT count(*) FROM facilities") == 0  # the dispensing facility need not exist


async def test_ndjson_with_numbers(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    line = {**medication_row(record_id="nd-1"), "quantity": 2.5, "days": 7}
    status = await _upload(
        client, processor, json.dumps(line, ensure_ascii=False).encode(), content_type="application/x-ndjson"
    )
    assert status["rows_accepted"] == 1, status["errors"]
    stored = await conn.fetchrow("SELECT quantity, days FROM medication_records WHERE record_id = 'nd-1'")
    assert (stored["quantity"], stored["days"]) == (Decimal("2.5"), 7)


async def test_every_bad_row_gets_its_own_error_and_good_rows_still_land(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    tomorrow = (clock.today_jst() + timedelta(days=1)).isoformat()
    rows = [
        medication_row(record_id="ok-1"),
        medication_row(record_id="bad-drug", drug_code="123"),
        medication_row(record_id="future", dispensed_on=tomorrow),
        medication_row(record_id="bad-insurer", insurer_number="06130010"),
        medication_row(record_id="zero", quantity="0"),
        medication_row(record_id="no-name", drug_name=""),
        medication_row(record_id="bad-facility", facility_code="12345"),
        medication_row(record_id="ok-2"),
    ]
    status = await _upload(client, processor, medication_csv(rows))
    assert status["status"] == "done"
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (8, 2, 6)
    assert {(e["row"], e["field"], e["error"]) for e in status["errors"]} == {
        (2, "drug_code", "invalid_format"),
        (3, "dispensed_on", "out_of_range"),
        (4, "insurer_number", "invalid_check_digit"),
        (5, "quantity", "out_of_range"),
        (6, "drug_name", "missing_field"),
        (7, "facility_code", "invalid_format"),
    }
    stored = {r["record_id"] for r in await conn.fetch("SELECT record_id FROM medication_records")}
    assert stored == {"ok-1", "ok-2"}


async def test_unknown_record_columns(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    csv_status = await _upload(
        client, processor, medication_csv([medication_row()], header=MEDICATION_HEADER + ",patient_name")
    )
    assert csv_status["status"] == "failed"
    assert [(e["row"], e["field"], e["error"]) for e in csv_status["errors"]] == [(0, "patient_name", "unknown_column")]
    lines = [
        json.dumps({**medication_row(record_id="nd-ok")}, ensure_ascii=False),
        json.dumps({**medication_row(record_id="nd-extra"), "patient_name": "山田"}, ensure_ascii=False),
    ]
    nd_status = await _upload(client, processor, "\n".join(lines).encode(), content_type="application/x-ndjson")
    assert nd_status["status"] == "done"
    assert [(e["row"], e["field"], e["error"]) for e in nd_status["errors"]] == [(2, "patient_name", "unknown_column")]
    assert [r["record_id"] for r in await conn.fetch("SELECT record_id FROM medication_records")] == ["nd-ok"]


async def test_missing_header_fails_the_batch_with_a_row_0_error(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    no_header = medication_csv([medication_row()]).split(b"\n", 1)[1]
    status = await _upload(client, processor, no_header)
    assert status["status"] == "failed"
    assert [(e["row"], e["error"]) for e in status["errors"]] == [(0, "missing_header")]
    partial = await _upload(client, processor, b"record_id,drug_code\nR1,2149039F1020\n")
    assert partial["status"] == "failed"
    missing = {e["field"] for e in partial["errors"] if e["error"] == "missing_column"}
    assert missing == set(MEDICATION_HEADER.split(",")) - {"record_id", "drug_code", "days"}
    assert await conn.fetchval("SELECT count(*) FROM medication_records") == 0


async def test_http_errors(app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    wrong_type = await post_batch(client, url=URL, token=processor["token"], body=b"x", content_type="text/plain")
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (415, "unsupported_media_type")
    empty = await post_batch(client, url=URL, token=processor["token"], body=b"")
    assert (empty.status_code, empty.json()["error"]) == (422, "empty_body")
    original = app.state.settings
    app.state.settings = original.model_copy(update={"max_batch_bytes": 200})
    try:
        big = await post_batch(client, url=URL, token=processor["token"], body=medication_csv([medication_row()] * 5))
    finally:
        app.state.settings = original
    assert (big.status_code, big.json()["error"]) == (413, "payload_too_large")
    unauthenticated = await client.post(URL, content=b"x", headers={"Content-Type": "text/csv"})
    assert unauthenticated.status_code == 401
    assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_idempotency_key_semantics(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    body = medication_csv([medication_row(record_id="idem")])
    first = await post_batch(client, url=URL, token=processor["token"], body=body, key="claims-2026-11")
    again = await post_batch(client, url=URL, token=processor["token"], body=body, key="claims-2026-11")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["status_url"] == f"{URL}/{first.json()['batch_id']}"
    other_body = medication_csv([medication_row(record_id="other")])
    clash = await post_batch(client, url=URL, token=processor["token"], body=other_body, key="claims-2026-11")
    assert (clash.status_code, clash.json()["error"]) == (409, "idempotency_conflict")
    other = await make_claims_processor(conn)  # a key is scoped to its owner
    theirs = await post_batch(client, url=URL, token=other["token"], body=other_body, key="claims-2026-11")
    assert theirs.status_code == 202 and theirs.json()["batch_id"] != first.json()["batch_id"]
    assert await conn.fetchval("SELECT count(*) FROM batches") == 2


async def test_changed_reupload_adds_a_version_identical_adds_none(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    await _upload(client, processor, medication_csv([medication_row(record_id="V1")]))
    await _upload(client, processor, medication_csv([medication_row(record_id="V1", quantity="1.000")]))
    assert await _versions(conn, "V1") == [(1, Decimal("1"), "345678", True)]  # the same value: no version
    status = await _upload(client, processor, medication_csv([medication_row(record_id="V1", quantity="2")]))
    assert status["rows_accepted"] == 1
    assert await _versions(conn, "V1") == [(1, Decimal("1"), "345678", False), (2, Decimal("2"), "345678", True)]


async def test_a_wrongly_attributed_record_is_corrected_by_reupload(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    await _upload(client, processor, medication_csv([medication_row(record_id="W1", number="111")]))
    await _upload(client, processor, medication_csv([medication_row(record_id="W1", number="222")]))
    assert [(v[2], v[3]) for v in await _versions(conn, "W1")] == [("111", False), ("222", True)]
    wrong = InsuredNumber("06130017", "12", "111", "01")
    assert await medications_for(conn, insured=[wrong], since=date(2000, 1, 1)) == []


async def test_same_record_twice_in_one_batch_applies_in_file_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    rows = [medication_row(record_id="D1", quantity=str(q)) for q in (1, 2, 2, 3)]
    status = await _upload(client, processor, medication_csv(rows))
    assert status["rows_accepted"] == 4
    assert [v[:2] for v in await _versions(conn, "D1")] == [(1, Decimal(1)), (2, Decimal(2)), (3, Decimal(3))]


async def test_many_rows_over_several_steps(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    processor = await make_claims_processor(conn)
    rows = [medication_row(record_id=f"S{i:03d}") for i in range(1, 131)]  # the test step size is 50
    status = await _upload(client, processor, medication_csv(rows))
    assert (status["rows_total"], status["rows_accepted"]) == (130, 130)
    assert await conn.fetchval("SELECT count(DISTINCT record_id) FROM medication_records WHERE is_current") == 130


async def test_tenant_isolation(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    a, b = await make_claims_processor(conn), await make_claims_processor(conn)
    response = await post_batch(client, url=URL, token=a["token"], body=medication_csv([medication_row()]))
    batch_id = response.json()["batch_id"]
    assert (await client.get(f"{URL}/{batch_id}", headers=bearer(a["token"]))).status_code == 200
    peek = await client.get(f"{URL}/{batch_id}", headers=bearer(b["token"]))
    assert (peek.status_code, peek.json()["error"]) == (404, "batch_not_found")
    insurer = await make_insurer(conn)
    as_insurer = await post_batch(client, url=URL, token=insurer["token"], body=medication_csv([medication_row()]))
    assert (as_insurer.status_code, as_insurer.json()["error"]) == (403, "forbidden")
    read_as_insurer = await client.get(f"{URL}/{batch_id}", headers=bearer(insurer["token"]))
    assert read_as_insurer.status_code == 403
    checkups = f"/v1/insurers/{insurer['insurer_number']}/checkup-batches"
    claims_on_checkups = await post_batch(client, url=checkups, token=a["token"], body=b"x")
    assert claims_on_checkups.status_code == 403


async def test_two_processors_may_use_the_same_record_id(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    a, b = await make_claims_processor(conn), await make_claims_processor(conn)
    await _upload(client, a, medication_csv([medication_row(record_id="SAME", quantity="1")]))
    await _upload(client, b, medication_csv([medication_row(record_id="SAME", quantity="2")]))
    current = await conn.fetch("SELECT quantity, version FROM medication_records WHERE is_current ORDER BY quantity")
    assert [tuple(r.values()) for r in current] == [(Decimal(1), 1), (Decimal(2), 1)]


async def test_medications_for_reads_current_records_since_a_date_newest_first(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    processor = await make_claims_processor(conn)
    other_insurer = insurer_number()
    rows = [
        medication_row(record_id="old", dispensed_on="2020-01-10"),
        medication_row(record_id="mid", dispensed_on="2023-03-01", days=""),
        medication_row(record_id="new", dispensed_on="2024-07-01", quantity="3"),
        medication_row(record_id="edge", dispensed_on="2022-01-01"),
        medication_row(record_id="family", branch="02", dispensed_on="2024-01-01"),
        medication_row(record_id="stranger", number="999", dispensed_on="2024-02-01"),
        medication_row(record_id="other-insurer", insurer_number=other_insurer, dispensed_on="2024-03-01"),
        medication_row(record_id="new", dispensed_on="2024-07-02", quantity="4"),  # supersedes "new"
    ]
    await _upload(client, processor, medication_csv(rows))
    me = InsuredNumber("06130017", "12", "345678", "01")
    found = await medications_for(conn, insured=[me, me], since=date(2022, 1, 1))
    assert [(r["dispensed_on"], r["quantity"]) for r in found] == [
        (date(2024, 7, 2), Decimal(4)), (date(2023, 3, 1), Decimal(1)), (date(2022, 1, 1), Decimal(1)),
    ]
    assert {k: v for k, v in found[1].items() if k != "id"} == {
        "facility_name": None,  # 1312345678 is not a registered facility here
        "dispensed_on": date(2023, 3, 1), "drug_code": "2149039F1020", "drug_name": "アムロジピン錠5mg",
        "quantity": Decimal(1), "unit": "錠", "days": None, "facility_code": "1312345678",
    }
    both = await medications_for(
        conn, insured=[me, InsuredNumber(other_insurer, "12", "345678", "01")], since=date(2024, 1, 1)
    )
    assert [r["dispensed_on"] for r in both] == [date(2024, 7, 2), date(2024, 3, 1)]
    assert await medications_for(conn, insured=[], since=date(2000, 1, 1)) == []
