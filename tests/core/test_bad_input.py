"""Every bad input the reliability review reproduced (issue 8) gets a clear error, never a 500 or worse."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import httpx
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from service.authority import service as authority_service
from tests.factories import (
    b64,
    bearer,
    eligibility_csv,
    eligibility_row,
    make_insurer,
    make_operator,
    upload_and_wait,
)


def _error(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["x-request-id"]
    return response.status_code, response.json()["error"]


async def test_nul_in_a_json_login_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/staff/login", json={"login": "a\u0000b", "password": "x"})
    assert _error(response) == (422, "invalid_input")
    assert "U+0000" in response.json()["detail"]


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: httpx.AsyncClient) -> None:
    # the JSON text "a\\u0000b" is the 8 characters a, \, u, 0, 0, 0, 0, b: a wrong login, not a NUL
    response = await client.post("/v1/staff/login", content=b'{"login": "a\\\\u0000b", "password": "xxxxxxxx"}',
                                 headers={"Content-Type": "application/json"})
    assert _error(response) == (401, "bad_credentials")


async def test_nul_in_the_html_login_form_is_422(client: httpx.AsyncClient) -> None:
    page = await client.get("/viewer/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = await client.post("/viewer/login", data={"login": "a\x00b", "password": "x",
                                                        "csrf_token": token.group(1)})
    assert _error(response) == (422, "invalid_input")


async def test_nul_in_a_path_or_query_is_422(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    operator = bearer(await make_operator(conn))
    suspend = await client.post("/v1/authority/certificates/1%00/suspend", json={"reason": "certificateHold"},
                                headers=operator)
    assert _error(suspend) == (422, "invalid_input")
    query = await client.get("/v1/insurers/06130017/link-reviews?offset=%00", headers=operator)
    assert _error(query) == (422, "invalid_input")


async def test_nul_in_identity_attributes_is_422(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI
) -> None:
    certificate, _ = authority_service.issue_certificate(app.state.authority, birthdate=date(1980, 4, 1))
    body = {"certificate": b64(certificate.public_bytes(Encoding.DER)), "name_kanji": "山田 太郎",
            "name_kana": "ヤマダ タロウ", "birthdate": "1980-04-01", "sex": 1, "address": "x\u0000"}
    response = await client.post("/v1/authority/holders", json=body, headers=bearer(await make_operator(conn)))
    assert _error(response) == (422, "invalid_input")
    assert await conn.fetchval("SELECT count(*) FROM holders") == 0


async def test_huge_offsets_are_422(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    headers = bearer(insurer["token"])
    huge = "9223372036854775808"
    number = insurer["insurer_number"]
    reviews = await client.get(f"/v1/insurers/{number}/link-reviews?offset={huge}", headers=headers)
    assert _error(reviews) == (422, "invalid_input")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row()]))
    batch = status["batch_id"]
    for url in (f"/v1/insurers/{number}/eligibility-batches/{batch}",
                f"/v1/insurers/{number}/checkup-batches/{batch}"):
        response = await client.get(f"{url}?errors_offset={huge}", headers=headers)
        assert _error(response) == (422, "invalid_input"), url
    largest = await client.get(f"/v1/insurers/{number}/eligibility-batches/{batch}?errors_offset=2147483647",
                               headers=headers)
    assert (largest.status_code, largest.json()["errors"]) == (200, [])


async def test_a_chunked_body_is_limited_like_a_declared_one(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body arrives in chunks
        nonlocal sent
        yield b'{"login": "'
        for _ in range(64):  # 4 MiB offered; the service stops reading after 1 MiB
            sent += 65536
            yield b"a" * 65536
        yield b'", "password": "x"}'

    response = await client.post("/v1/staff/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert _error(response) == (413, "payload_too_large")


async def test_undecodable_or_too_deep_json_is_422_invalid_input(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    for body in (b'{"login": "\xff\xfe", "password": "x"}', b"[" * 5000 + b"]" * 5000, b'{"login": '):
        response = await client.post("/v1/staff/login", content=body, headers=headers)
        assert _error(response) == (422, "invalid_input"), body[:20]


async def test_openapi_documents_the_error_body_for_422(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "detail"}


async def test_a_deeply_nested_ndjson_line_is_rejected_and_the_batch_keeps_the_others(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    import json

    insurer = await make_insurer(conn)
    good = [json.dumps(eligibility_row(record_id=f"N{i}"), ensure_ascii=False) for i in range(4)]
    body = "\n".join([good[0], good[1], "[" * 5000 + "]" * 5000, good[2], good[3]]).encode()
    status = await upload_and_wait(client, insurer=insurer, body=body, content_type="application/x-ndjson")
    assert (status["status"], status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (
        "done", 5, 4, 1)
    assert [(e["row"], e["error"]) for e in status["errors"]] == [(3, "invalid_json")]


async def test_a_stray_quote_in_a_csv_costs_its_own_row_only(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    rows = eligibility_csv([eligibility_row(record_id=f"Q{i:04d}") for i in range(1, 1001)]).decode().splitlines()
    rows[2] = rows[2].replace(",upsert,", ',"upsert,', 1)  # row 2 opens a quote it never closes
    rows[500] = rows[500].replace(",345678,", ',345"678,', 1)  # row 500: a quote inside an unquoted field
    status = await upload_and_wait(client, insurer=insurer, body=("\n".join(rows) + "\n").encode())
    assert (status["status"], status["rows_total"], status["rows_accepted"], status["rows_rejected"]) == (
        "done", 1000, 998, 2)
    assert [(e["row"], e["field"], e["error"]) for e in status["errors"]] == [
        (2, None, "invalid_csv"), (500, "number", "invalid_format")]


async def test_a_quoted_field_may_still_span_lines(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    rows = [eligibility_row(record_id="M1", address="千代田区\n霞が関1-2-3"), eligibility_row(record_id="M2")]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    # one record over two lines (the address field then refuses its line break), and the next row intact
    assert (status["rows_total"], status["rows_accepted"]) == (2, 1), status
    assert [(e["row"], e["field"]) for e in status["errors"]] == [(1, "address")]


async def test_nul_in_batch_fields_rejects_the_row(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    rows = [eligibility_row(record_id="Z1"), eligibility_row(record_id="Z2", name_kanji="山田\x00太郎"),
            eligibility_row(record_id="Z3")]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    assert (status["status"], status["rows_accepted"], status["rows_rejected"]) == ("done", 2, 1), status
    assert status["errors"][0]["row"] == 2


def _my_number() -> str:
    from service.core.identifiers import is_my_number

    return next(c for c in (f"98765432101{d}" for d in range(10)) if is_my_number(c))


async def test_a_my_number_is_refused_as_idempotency_key_and_in_the_number_column(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    number = _my_number()
    keyed = await client.post(f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches",
                              content=eligibility_csv([eligibility_row()]),
                              headers={**bearer(insurer["token"]), "Idempotency-Key": f"upload-{number}",
                                       "Content-Type": "text/csv"})
    assert _error(keyed) == (422, "my_number_not_allowed")
    assert number not in keyed.text
    assert await conn.fetchval("SELECT count(*) FROM batches") == 0
    rows = [eligibility_row(record_id="P1", number=number), eligibility_row(record_id="P2")]
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    assert [(e["row"], e["field"], e["error"]) for e in status["errors"]] == [(1, "number", "my_number_not_allowed")]
    assert await conn.fetchval("SELECT count(*) FROM eligibility_records WHERE number = $1", number) == 0
