"""Eligibility batch upload over HTTP: media types, idempotency, per-row errors, encodings, progress."""

from __future__ import annotations

import json
import unicodedata

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.core.identifiers import is_my_number
from tests.factories import (
    ELIGIBILITY_HEADER,
    bearer,
    eligibility_csv,
    eligibility_row,
    make_facility,
    make_insurer,
    upload,
    upload_and_wait,
    wait_for_batch,
)


def my_number() -> str:
    """A 12-digit number with a valid My Number check digit."""
    for last in range(10):
        candidate = f"12345678901{last}"
        if is_my_number(candidate):
            return candidate
    raise AssertionError("no check digit found")


async def test_valid_csv_is_accepted_and_counted(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row() for _ in range(3)]))
    assert status["status"] == "done"
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (3, 3, 0)
    assert status["errors"] == []
    stored = await conn.fetchval(
        "SELECT count(*) FROM eligibility_records WHERE insurer_number = $1", insurer["insurer_number"]
    )
    assert stored == 3


async def test_every_bad_row_gets_its_own_error_and_good_rows_still_land(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    rows = [
        eligibility_row(record_id="ok-1"),
        eligibility_row(record_id="bad-sex", sex="3"),
        eligibility_row(record_id="bad-date", birthdate="1980-02-30"),
        eligibility_row(record_id="bad-ratio", copay_ratio="25"),
        eligibility_row(record_id="no-name", name_kanji=""),
        eligibility_row(record_id="order", qualified_on="2020-04-01", disqualified_on="2019-04-01"),
        eligibility_row(record_id="bad-kind", holder_kind="9"),
        eligibility_row(record_id="ok-2"),
    ]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    assert status["status"] == "done"
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (8, 2, 6)
    by_row = {(e["row"], e["field"]): e["error"] for e in status["errors"]}
    assert by_row[(2, "sex")] == "invalid_choice"
    assert by_row[(3, "birthdate")] == "invalid_date"
    assert by_row[(4, "copay_ratio")] == "invalid_choice"
    assert by_row[(5, "name_kanji")] == "missing_field"
    assert by_row[(6, "disqualified_on")] == "date_order"
    assert by_row[(7, "holder_kind")] == "invalid_choice"
    stored = {r["record_id"] for r in await conn.fetch("SELECT record_id FROM eligibility_records")}
    assert stored == {"ok-1", "ok-2"}


async def test_row_structure_errors(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    good = eligibility_csv([eligibility_row(record_id="good")]).decode().splitlines()[1]
    body = (
        "\n".join(
            [
                ELIGIBILITY_HEADER,
                "too,few,fields",
                good,
                "",  # blank lines are not rows
            ]
        ).encode()
        + b"\xff\xfe,broken\n"
        + ("\n" + good.replace("good", "good-2")).encode()
    )
    status = await upload_and_wait(client, insurer=insurer, body=body)
    errors = {e["row"]: e["error"] for e in status["errors"]}
    assert errors == {1: "wrong_field_count", 3: "invalid_encoding"}
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (4, 2, 2)


async def test_missing_header_fails_the_batch_with_a_row_0_error(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    body = b"record_id,symbol\nR1,12\n"
    status = await upload_and_wait(client, insurer=insurer, body=body)
    assert status["status"] == "failed"
    assert "header" in status["failure"]
    assert {e["row"] for e in status["errors"]} == {0}
    assert any(e["error"] == "missing_column" for e in status["errors"])


async def test_my_number_in_a_field_is_rejected_and_never_stored(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    number = my_number()
    status = await upload_and_wait(
        client, insurer=insurer, body=eligibility_csv([eligibility_row(address=f"千代田区1-2-3 {number}")])
    )
    assert status["rows_rejected"] == 1
    assert status["errors"][0]["error"] == "my_number_not_allowed"
    assert number not in json.dumps(status, ensure_ascii=False)
    dump = await conn.fetchval("SELECT count(*) FROM eligibility_records WHERE address LIKE '%' || $1 || '%'", number)
    assert dump == 0
    assert await conn.fetchval("SELECT count(*) FROM batch_chunks") == 0  # the raw body is gone after processing


async def test_ndjson_with_numbers_and_unknown_keys(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    good = {**eligibility_row(record_id="nd-1"), "sex": 2, "copay_ratio": 20}
    unknown = {**eligibility_row(record_id="nd-2"), "favourite_colour": "blue"}
    lines = [json.dumps(good, ensure_ascii=False), "[1, 2]", "{not json", json.dumps(unknown, ensure_ascii=False)]
    status = await upload_and_wait(
        client, insurer=insurer, body="\n".join(lines).encode(), content_type="application/x-ndjson"
    )
    assert status["rows_total"] == 4
    errors = {e["row"]: e["error"] for e in status["errors"]}
    assert errors == {2: "invalid_json", 3: "invalid_json", 4: "unknown_column"}
    record = await conn.fetchrow("SELECT sex, copay_ratio FROM eligibility_records WHERE record_id = 'nd-1'")
    assert (record["sex"], record["copay_ratio"]) == (2, 20)


async def test_unicode_forms_bom_quotes_and_shift_jis(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    nfd = eligibility_row(record_id="nfd", name_kana=unicodedata.normalize("NFD", "ヤマダ タロウ"))
    halfwidth = eligibility_row(record_id="hw", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ", birthdate="１９８０－０４－０１")
    quoted = eligibility_row(record_id="quoted", address='千代田区霞が関1-2-3, "霞ビル"2階')
    # a line break inside a quoted field keeps the record whole (and the row count right); the validator then
    # refuses control characters in an address
    multiline = eligibility_row(record_id="multi", address="千代田区\n霞が関1-2-3")
    after = eligibility_row(record_id="after")
    body = b"\xef\xbb\xbf" + eligibility_csv([nfd, halfwidth, quoted, multiline, after])
    status = await upload_and_wait(client, insurer=insurer, body=body)
    assert (status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (5, 4, 1), status["errors"]
    assert [(e["row"], e["field"]) for e in status["errors"]] == [(4, "address")]
    address = await conn.fetchval("SELECT address FROM eligibility_records WHERE record_id = 'quoted'")
    assert address == '千代田区霞が関1-2-3, "霞ビル"2階'
    sjis = eligibility_csv([eligibility_row(record_id="sjis", name_kanji="髙橋健")]).decode().encode("cp932")
    status = await upload_and_wait(client, insurer=insurer, body=sjis, content_type="text/csv; charset=Shift_JIS")
    assert status["rows_accepted"] == 1
    assert await conn.fetchval("SELECT name_kanji FROM eligibility_records WHERE record_id = 'sjis'") == "髙橋健"


async def test_header_only_csv_is_done_with_no_rows(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=(ELIGIBILITY_HEADER + "\n").encode())
    assert (status["status"], status["rows_total"], status["rows_accepted"]) == ("done", 0, 0)


@pytest.mark.parametrize(
    ("content_type", "status", "error"),
    [
        ("application/json", 415, "unsupported_media_type"),
        ("text/csv; charset=latin-1", 415, "unsupported_media_type"),
        ("application/x-ndjson; charset=shift_jis", 415, "unsupported_media_type"),
    ],
)
async def test_wrong_media_types(
    client: httpx.AsyncClient, conn: asyncpg.Connection, content_type: str, status: int, error: str
) -> None:
    insurer = await make_insurer(conn)
    response = await upload(client, insurer=insurer, body=b"x", content_type=content_type)
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_empty_body_and_missing_key(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    empty = await upload(client, insurer=insurer, body=b"")
    assert (empty.status_code, empty.json()["error"]) == (422, "empty_body")
    no_key = await client.post(
        f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches",
        content=b"a",
        headers={**bearer(insurer["token"]), "Content-Type": "text/csv"},
    )
    assert (no_key.status_code, no_key.json()["error"]) == (422, "missing_idempotency_key")
    assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_body_over_the_limit_is_413_and_leaves_nothing(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    original = app.state.settings
    app.state.settings = original.model_copy(update={"max_batch_bytes": 200})
    try:
        response = await upload(client, insurer=insurer, body=eligibility_csv([eligibility_row()] * 5))
    finally:
        app.state.settings = original
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_idempotency_key_semantics(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    body = eligibility_csv([eligibility_row(record_id="idem")])
    first = await upload(client, insurer=insurer, body=body, key="upload-2026-11-26")
    again = await upload(client, insurer=insurer, body=body, key="upload-2026-11-26")
    assert first.status_code == again.status_code == 202
    assert first.json()["batch_id"] == again.json()["batch_id"]
    clash = await upload(
        client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="other")]), key="upload-2026-11-26"
    )
    assert (clash.status_code, clash.json()["error"]) == (409, "idempotency_conflict")
    await wait_for_batch(client, insurer=insurer, batch_id=first.json()["batch_id"])
    assert await conn.fetchval("SELECT count(*) FROM batches") == 1
    assert await conn.fetchval("SELECT count(*) FROM eligibility_records") == 1


async def test_tenant_isolation_of_batches(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    mine, theirs = await make_insurer(conn), await make_insurer(conn)
    response = await upload(client, insurer=theirs, body=eligibility_csv([eligibility_row()]))
    batch_id = response.json()["batch_id"]
    peek = await client.get(
        f"/v1/insurers/{theirs['insurer_number']}/eligibility-batches/{batch_id}", headers=bearer(mine["token"])
    )
    assert peek.status_code == 404
    as_mine = await client.get(
        f"/v1/insurers/{mine['insurer_number']}/eligibility-batches/{batch_id}", headers=bearer(mine["token"])
    )
    assert as_mine.status_code == 404
    post_theirs = await upload(client, insurer={**theirs, "token": mine["token"]}, body=b"x")
    assert post_theirs.status_code == 404
    facility = await make_facility(conn)
    from service.accounts import service as accounts

    terminal = await accounts.create_terminal(conn, facility_code=facility)
    wrong_kind = await upload(client, insurer={**mine, "token": terminal["token"]}, body=b"x")
    assert wrong_kind.status_code == 403


async def test_errors_are_paged(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    rows = [eligibility_row(sex="9") for _ in range(30)]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    page = await client.get(
        f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches/{status['batch_id']}",
        params={"errors_offset": 10, "errors_limit": 5},
        headers=bearer(insurer["token"]),
    )
    body = page.json()
    assert [e["row"] for e in body["errors"]] == [11, 12, 13, 14, 15]
    assert body["rows_rejected"] == 30


STATUS_FIELDS = [
    "batch_id", "kind", "status", "rows_total", "rows_processed", "rows_accepted", "rows_rejected", "linked",
    "needs_review", "ambiguous", "failure", "created_at", "started_at", "finished_at", "errors", "errors_offset",
    "errors_returned",
]


async def test_status_shows_the_row_in_the_contracts_field_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """BatchStatus is put together from two bases (schemas.py): its JSON keeps the contract's order."""
    insurer = await make_insurer(conn)
    response = await upload(client, insurer=insurer, body=eligibility_csv([eligibility_row(), eligibility_row()]))
    batch_id = response.json()["batch_id"]
    url = f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches/{batch_id}"
    await conn.execute(  # as while its body streams in: shown as queued
        "UPDATE batches SET status = 'receiving', created_at = '2026-01-02 03:04:05.5+00' WHERE id = $1", batch_id
    )
    waiting = (await client.get(url, headers=bearer(insurer["token"]))).json()
    assert list(waiting) == STATUS_FIELDS
    assert waiting["batch_id"] == batch_id
    assert (waiting["kind"], waiting["status"], waiting["rows_total"], waiting["rows_processed"]) == (
        "eligibility", "queued", 2, 0
    )
    assert (waiting["created_at"], waiting["started_at"], waiting["finished_at"]) == (
        "2026-01-02T03:04:05.500000+00:00", None, None
    )
    await conn.execute("UPDATE batches SET status = 'queued' WHERE id = $1", batch_id)
    done = await wait_for_batch(client, insurer=insurer, batch_id=batch_id)
    assert list(done) == STATUS_FIELDS
    assert (done["status"], done["rows_processed"], done["rows_accepted"], done["errors_returned"]) == ("done", 2, 2, 0)
    assert done["started_at"] is not None and done["finished_at"] is not None
