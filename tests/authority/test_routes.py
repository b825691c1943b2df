"""The authority API: registering holders, suspension, release, revocation, renewal; operator-only."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from service.accounts import service as accounts
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.core.identifiers import is_my_number
from tests.factories import b64, bearer, make_facility, make_operator


def _new_certificate(authority: CertificateAuthority, birthdate: str = "1980-04-01") -> bytes:
    from datetime import date

    certificate, _ = authority_service.issue_certificate(authority, birthdate=date.fromisoformat(birthdate))
    return certificate.public_bytes(Encoding.DER)


def _holder_body(certificate: bytes, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "certificate": b64(certificate),
        "name_kanji": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "birthdate": "1980-04-01",
        "sex": 1,
        "address": "東京都千代田区霞が関1丁目2番3号",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def operator(conn: asyncpg.Connection) -> dict[str, str]:
    return bearer(await make_operator(conn))


async def _register(client: httpx.AsyncClient, app: FastAPI, operator: dict[str, str]) -> str:
    response = await client.post(
        "/v1/authority/holders", json=_holder_body(_new_certificate(app.state.authority)), headers=operator
    )
    assert response.status_code == 201, response.text
    serial: str = response.json()["serial"]
    return serial


async def test_register_holder_records_attributes_by_serial(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, operator: dict[str, str]
) -> None:
    serial = await _register(client, app, operator)
    assert serial.isdigit()
    row = await conn.fetchrow(
        "SELECT h.name_kanji, h.norm_address, c.status FROM certificates c JOIN holders h ON h.id = c.holder_id "
        "WHERE c.serial = $1",
        serial,
    )
    assert (row["name_kanji"], row["status"]) == ("山田 太郎", "active")
    assert row["norm_address"].endswith("1-2-3")


async def test_certificate_from_another_authority_or_garbage_is_refused(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    foreign = CertificateAuthority.generate(name="Some Other Authority")
    response = await client.post(
        "/v1/authority/holders", json=_holder_body(_new_certificate(foreign)), headers=operator
    )
    assert (response.status_code, response.json()["error"]) == (422, "untrusted_certificate")
    garbage = await client.post(
        "/v1/authority/holders", json=_holder_body(b"not a certificate"), headers=operator
    )
    assert (garbage.status_code, garbage.json()["error"]) == (422, "malformed_certificate")
    not_b64 = await client.post(
        "/v1/authority/holders", json={**_holder_body(b"x"), "certificate": "***"}, headers=operator
    )
    assert (not_b64.status_code, not_b64.json()["error"]) == (422, "invalid_input")


async def test_same_certificate_twice_is_a_conflict(
    app: FastAPI, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    body = _holder_body(_new_certificate(app.state.authority))
    assert (await client.post("/v1/authority/holders", json=body, headers=operator)).status_code == 201
    again = await client.post("/v1/authority/holders", json=body, headers=operator)
    assert again.status_code == 409


async def test_a_my_number_in_an_attribute_is_refused_and_not_stored(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, operator: dict[str, str]
) -> None:
    number = next(f"98765432101{d}" for d in range(10) if is_my_number(f"98765432101{d}"))
    body = _holder_body(_new_certificate(app.state.authority), address=f"千代田区1-2-3 {number}")
    response = await client.post("/v1/authority/holders", json=body, headers=operator)
    assert response.status_code == 422
    assert number not in response.text
    assert await conn.fetchval("SELECT count(*) FROM holders") == 0


async def test_suspend_release_revoke_lifecycle(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, operator: dict[str, str]
) -> None:
    serial = await _register(client, app, operator)
    url = f"/v1/authority/certificates/{serial}"
    suspended = await client.post(f"{url}/suspend", json={}, headers=operator)
    assert suspended.json() == {
        "serial": serial,
        "status": "suspended",
        "status_reason": "certificateHold",
        "replaced_by": None,
    }
    assert (await client.post(f"{url}/suspend", json={}, headers=operator)).status_code == 409
    released = await client.post(f"{url}/release", json={}, headers=operator)
    assert released.json()["status"] == "active"
    assert (await client.post(f"{url}/release", json={}, headers=operator)).status_code == 409
    bad_reason = await client.post(f"{url}/revoke", json={"reason": "because"}, headers=operator)
    assert bad_reason.status_code == 422
    revoked = await client.post(f"{url}/revoke", json={"reason": "keyCompromise"}, headers=operator)
    assert revoked.json()["status"] == "revoked"
    assert (await client.post(f"{url}/release", json={}, headers=operator)).status_code == 409
    events = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM certificate_events WHERE serial = $1 ORDER BY id", serial
        )
    ]
    assert events == ["issue", "suspend", "release", "revoke"]


async def test_unknown_serial_and_unknown_action(client: httpx.AsyncClient, operator: dict[str, str]) -> None:
    missing = await client.post("/v1/authority/certificates/12345/suspend", json={}, headers=operator)
    assert (missing.status_code, missing.json()["error"]) == (404, "certificate_not_found")
    unknown = await client.post("/v1/authority/certificates/12345/destroy", json={}, headers=operator)
    assert unknown.status_code == 422


async def test_renewal_records_old_to_new(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, operator: dict[str, str]
) -> None:
    old = await _register(client, app, operator)
    new_cert = _new_certificate(app.state.authority)
    response = await client.post(
        "/v1/authority/renewals", json={"old_serial": old, "certificate": b64(new_cert)}, headers=operator
    )
    assert response.status_code == 201, response.text
    new = response.json()["serial"]
    assert new != old
    rows = {
        r["serial"]: r
        for r in await conn.fetch(
            "SELECT serial, holder_id, status, status_reason, replaced_by FROM certificates"
        )
    }
    assert rows[old]["replaced_by"] == new
    assert (rows[old]["status"], rows[old]["status_reason"]) == ("revoked", "superseded")
    assert rows[new]["holder_id"] == rows[old]["holder_id"]
    twice = await client.post(
        "/v1/authority/renewals",
        json={"old_serial": old, "certificate": b64(_new_certificate(app.state.authority))},
        headers=operator,
    )
    assert twice.status_code == 409


async def test_only_operators_reach_the_authority(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    body = _holder_body(_new_certificate(app.state.authority))
    assert (await client.post("/v1/authority/holders", json=body)).status_code == 401
    insurer = await accounts.create_insurer(conn, number="06130017", name="x")
    terminal = await accounts.create_terminal(conn, facility_code=await make_facility(conn))
    for token in (insurer["token"], terminal["token"]):
        response = await client.post("/v1/authority/holders", json=body, headers=bearer(token))
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")

