"""Checkup batches (特定健診) from insurers: upload, row errors, idempotency, versions, isolation, reads."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from service.core.clock import clock
from service.records.service import InsuredNumber, checkups_for
from tests.factories import (
    CHECKUP_HEADER,
    bearer,
    checkup_csv,
    checkup_row,
    eligibility_csv,
    eligibility_row,
    make_claims_processor,
    make_insurer,
    post_batch,
    post_batch_and_wait,
    upload_and_wait,
)

MEASURES = CHECKUP_HEADER.split(",")[5:]


def _url(insurer: dict[str, str]) -> str:
    return f"/v1/insurers/{insurer['insurer_number']}/checkup-batches"


async def _upload(client: httpx.AsyncClient, insurer: dict[str, str], body: bytes, **kw: Any) -> dict[str, Any]:
    return await post_batch_and_wait(client, url=_url(insurer), token=insurer["token"], body=body, **kw)


async def _versions(conn: asyncpg.Connection, record_id: str) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT version, hba1c, is_current FROM checkup_results WHERE record_id = $1 ORDER BY version", record_id
    )
    return [tuple(r.values()) for r in rows]


async def test_valid_csv_is_stored_with_unmeasured_values_as_null(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    rows = [checkup_row(record_id="k-1"), checkup_row(record_id="k-2", branch="2", ldl="130", hba1c="")]
    status = await _upload(client, insurer, checkup_csv(rows))
    assert status["status"] == "done", status
    assert (status["kind"], status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (
        "checkup", 2, 2, 0,
    )
    stored = await conn.fetch(
        "SELECT record_id, insurer_number, branch, hba1c, ldl, waist_cm, version FROM checkup_results ORDER BY 1"
    )
    assert [tuple(r.values()) for r in stored] == [
        ("k-1", insurer["insurer_number"], "01", Decimal("5.6"), None, None, 1),
        ("k-2", insurer["insurer_number"], "02", None, Decimal(130), None, 1),
    ]


async def test_every_bad_row_gets_its_own_error_and_good_rows_still_land(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    tomorrow = (clock.today_jst() + timedelta(days=1)).isoformat()
    nothing_measured = dict.fromkeys(MEASURES, "")
    rows = [
        checkup_row(record_id="ok-1"),
        checkup_row(record_id="tall", height_cm="1702"),  # a unit mistake
        checkup_row(record_id="future", examined_on=tomorrow),
        checkup_row(record_id="bp", systolic_bp="12O"),
        checkup_row(record_id="empty", **nothing_measured),
        checkup_row(record_id="branch", branch="001"),
        checkup_row(record_id="ok-2"),
    ]
    status = await _upload(client, insurer, checkup_csv(rows))
    assert status["status"] == "done"
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (7, 2, 5)
    assert {(e["row"], e["field"], e["error"]) for e in status["errors"]} == {
        (2, "height_cm", "out_of_range"),
        (3, "examined_on", "out_of_range"),
        (4, "systolic_bp", "invalid_format"),
        (5, None, "no_measurements"),
        (6, "branch", "invalid_format"),
    }
    assert "1702" not in json.dumps(status)  # a measurement is never echoed
    stored = {r["record_id"] for r in await conn.fetch("SELECT record_id FROM checkup_results")}
    assert stored == {"ok-1", "ok-2"}


async def test_unknown_record_columns(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    body = checkup_csv([checkup_row()], header=CHECKUP_HEADER + ",insurer_number")
    with_insurer = await _upload(client, insurer, body)
    assert with_insurer["status"] == "failed"
    assert [(e["row"], e["field"], e["error"]) for e in with_insurer["errors"]] == [
        (0, "insurer_number", "unknown_column"),
    ]
    lines = [
        json.dumps({"record_id": "nd-1", "symbol": "12", "number": "1", "branch": "01", "examined_on": "2024-01-05",
                    "hba1c": 5.4}),
        json.dumps({**checkup_row(record_id="nd-2"), "urine_protein": "+"}),
    ]
    status = await _upload(client, insurer, "\n".join(lines).encode(), content_type="application/x-ndjson")
    assert [(e["row"], e["field"], e["error"]) for e in status["errors"]] == [(2, "urine_protein", "unknown_column")]
    stored = await conn.fetch("SELECT record_id, hba1c, bmi FROM checkup_results")
    assert [tuple(r.values()) for r in stored] == [("nd-1", Decimal("5.4"), None)]


async def test_missing_header_fails_the_batch(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    no_header = checkup_csv([checkup_row()]).split(b"\n", 1)[1]
    status = await _upload(client, insurer, no_header)
    assert status["status"] == "failed"
    assert [(e["row"], e["error"]) for e in status["errors"]] == [(0, "missing_header")]
    partial = await _upload(client, insurer, b"record_id,symbol,hba1c\nR1,12,5.5\n")
    assert {(e["field"], e["error"]) for e in partial["errors"]} == {
        ("number", "missing_column"), ("branch", "missing_column"), ("examined_on", "missing_column"),
    }
    assert await conn.fetchval("SELECT count(*) FROM checkup_results") == 0


async def test_http_errors(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    wrong_type = await post_batch(
        client, url=_url(insurer), token=insurer["token"], body=b"x", content_type="application/json"
    )
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (415, "unsupported_media_type")
    no_key = await client.post(
        _url(insurer), content=b"x", headers={**bearer(insurer["token"]), "Content-Type": "text/csv"}
    )
    assert (no_key.status_code, no_key.json()["error"]) == (422, "missing_idempotency_key")
    assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_idempotency_key_semantics(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    body = checkup_csv([checkup_row(record_id="idem")])
    first = await post_batch(client, url=_url(insurer), token=insurer["token"], body=body, key="kenshin-2026")
    again = await post_batch(client, url=_url(insurer), token=insurer["token"], body=body, key="kenshin-2026")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    clash = await post_batch(
        client, url=_url(insurer), token=insurer["token"], body=checkup_csv([checkup_row()]), key="kenshin-2026"
    )
    assert (clash.status_code, clash.json()["error"]) == (409, "idempotency_conflict")
    # an eligibility batch may use the same key: keys are scoped to the batch kind
    eligibility = await upload_and_wait(
        client, insurer=insurer, body=eligibility_csv([eligibility_row()]), key="kenshin-2026"
    )
    assert eligibility["batch_id"] != first.json()["batch_id"]
    assert await conn.fetchval("SELECT count(*) FROM batches") == 2


async def test_changed_reupload_adds_a_version_identical_adds_none(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    body = checkup_csv([checkup_row(record_id="V1")])
    await _upload(client, insurer, body, key="a")
    await _upload(client, insurer, body, key="b")
    assert await _versions(conn, "V1") == [(1, Decimal("5.6"), True)]
    status = await _upload(client, insurer, checkup_csv([checkup_row(record_id="V1", hba1c="6.1")]))
    assert status["rows_accepted"] == 1
    assert await _versions(conn, "V1") == [(1, Decimal("5.6"), False), (2, Decimal("6.1"), True)]
    now_unmeasured = await _upload(client, insurer, checkup_csv([checkup_row(record_id="V1", hba1c="")]))
    assert now_unmeasured["rows_accepted"] == 1
    assert await _versions(conn, "V1") == [
        (1, Decimal("5.6"), False), (2, Decimal("6.1"), False), (3, None, True),
    ]


async def test_same_record_twice_in_one_batch_applies_in_file_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    rows = [checkup_row(record_id="D1", hba1c=value) for value in ("5.0", "5.5", "5.5", "6.0")]
    status = await _upload(client, insurer, checkup_csv(rows))
    assert status["rows_accepted"] == 4
    assert [v[:2] for v in await _versions(conn, "D1")] == [
        (1, Decimal("5.0")), (2, Decimal("5.5")), (3, Decimal("6.0")),
    ]


async def test_insurers_keep_their_own_record_ids(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    a, b = await make_insurer(conn), await make_insurer(conn)
    await _upload(client, a, checkup_csv([checkup_row(record_id="SAME", hba1c="5.1")]))
    await _upload(client, b, checkup_csv([checkup_row(record_id="SAME", hba1c="5.2")]))
    current = await conn.fetch("SELECT insurer_number, hba1c FROM checkup_results WHERE is_current ORDER BY hba1c")
    assert [tuple(r.values()) for r in current] == [
        (a["insurer_number"], Decimal("5.1")), (b["insurer_number"], Decimal("5.2")),
    ]


async def test_tenant_isolation(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    mine, theirs = await make_insurer(conn), await make_insurer(conn)
    response = await post_batch(client, url=_url(theirs), token=theirs["token"], body=checkup_csv([checkup_row()]))
    batch_id = response.json()["batch_id"]
    peek = await client.get(f"{_url(theirs)}/{batch_id}", headers=bearer(mine["token"]))
    assert peek.status_code == 404
    as_mine = await client.get(f"{_url(mine)}/{batch_id}", headers=bearer(mine["token"]))
    assert as_mine.status_code == 404
    post_theirs = await post_batch(client, url=_url(theirs), token=mine["token"], body=checkup_csv([checkup_row()]))
    assert post_theirs.status_code == 404
    claims = await make_claims_processor(conn)
    assert (await client.get(f"{_url(theirs)}/{batch_id}", headers=bearer(claims["token"]))).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM batches") == 1


async def test_an_eligibility_batch_is_not_a_checkup_batch(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    eligibility = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row()]))
    response = await client.get(f"{_url(insurer)}/{eligibility['batch_id']}", headers=bearer(insurer["token"]))
    assert (response.status_code, response.json()["error"]) == (404, "batch_not_found")


async def test_checkups_for_reads_current_results_since_a_date_newest_first(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer, other = await make_insurer(conn), await make_insurer(conn)
    rows = [
        checkup_row(record_id="2019", examined_on="2019-06-01"),
        checkup_row(record_id="2021", examined_on="2021-06-01", hba1c="5.8"),
        checkup_row(record_id="2023", examined_on="2023-06-01", hba1c="6.0"),
        checkup_row(record_id="family", branch="02", examined_on="2023-07-01"),
        checkup_row(record_id="2023", examined_on="2023-06-02", hba1c="6.2"),  # a correction: supersedes
    ]
    await _upload(client, insurer, checkup_csv(rows))
    await _upload(client, other, checkup_csv([checkup_row(record_id="elsewhere", examined_on="2022-01-01")]))
    me = InsuredNumber(insurer["insurer_number"], "12", "345678", "01")
    found = await checkups_for(conn, insured=[me], since=date(2021, 6, 1))
    assert [(r["examined_on"], r["hba1c"]) for r in found] == [
        (date(2023, 6, 2), Decimal("6.2")), (date(2021, 6, 1), Decimal("5.8")),
    ]
    assert set(found[0]) == {"id", "examined_on", *MEASURES}  # id: the FHIR Observation ids use it
    assert (found[0]["height_cm"], found[0]["ldl"]) == (Decimal("170.2"), None)
    with_other = await checkups_for(
        conn, insured=[me, InsuredNumber(other["insurer_number"], "12", "345678", "01")], since=date(2021, 6, 2)
    )
    assert [r["examined_on"] for r in with_other] == [date(2023, 6, 2), date(2022, 1, 1)]
    assert await checkups_for(conn, insured=[], since=date(2000, 1, 1)) == []
