"""The holder portal API: sign in with the card, read one's own data, withdraw a consent, read the access log."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from service import cards
from service.core.clock import clock
from tests.factories import b64, bearer, consented_patient, make_card, make_staff
from virtualcard import VirtualCard


async def sign_in(client: httpx.AsyncClient, card: Any, *, pin: str | None = "1234") -> httpx.Response:
    challenge = (await client.post("/v1/portal/challenges")).json()
    signature = card.sign(base64.b64decode(challenge["nonce"]), pin=pin)
    return await client.post("/v1/portal/sessions", json={
        "challenge_id": challenge["challenge_id"], "certificate": b64(card.certificate_der),
        "signature": b64(signature)})


async def session_of(client: httpx.AsyncClient, card: Any) -> dict[str, str]:
    response = await sign_in(client, card)
    assert response.status_code == 201, response.text
    return bearer(response.json()["session_token"])


async def test_a_holder_reads_their_records_consents_and_who_viewed_them(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    patient = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic")
    staff = await make_staff(conn, facility_code=patient["facility_code"], role="doctor")
    login = await client.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
    assert login.status_code == 200
    viewed = await client.get(f"/v1/viewer/consents/{patient['consent_id']}/medications")
    assert viewed.status_code == 200, viewed.text
    client.cookies.clear()

    auth = await session_of(client, patient["card"])
    eligibility = (await client.get("/v1/portal/eligibility", headers=auth)).json()
    assert eligibility["validity_code"] == 1 and eligibility["current"]["copay_ratio"] == 30
    assert eligibility["history"][0]["insurer_name"] and eligibility["current"] in eligibility["history"]
    medications = (await client.get("/v1/portal/medications", headers=auth)).json()["records"]
    assert [m["drug_name"] for m in medications][:1] == ["アムロジピン錠5mg"]
    assert "四年前の錠10mg" not in {m["drug_name"] for m in medications}  # older than 3 years
    checkups = (await client.get("/v1/portal/checkups", headers=auth)).json()["records"]
    assert len(checkups) == 3 and float(checkups[0]["hba1c"]) == 6.3
    log = (await client.get("/v1/portal/access-log", headers=auth)).json()["entries"]
    assert [(e["facility_code"], e["role"], e["category"]) for e in log] == [
        (patient["facility_code"], "doctor", "medication")]
    assert log[0]["facility_name"] == "やまだ内科クリニック"


async def test_a_holder_withdraws_a_consent_and_the_doctor_loses_access(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    patient = await consented_patient(client, conn, app.state.authority, tmp_path, with_records=False)
    auth = await session_of(client, patient["card"])
    consents = (await client.get("/v1/portal/consents", headers=auth)).json()["consents"]
    assert [(c["consent_id"], c["state"]) for c in consents] == [(patient["consent_id"], "active")]
    withdrawn = await client.post(f"/v1/portal/consents/{patient['consent_id']}/withdraw", headers=auth)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consents"][0]["state"] == "withdrawn"
    staff = await make_staff(conn, facility_code=patient["facility_code"], role="pharmacist")
    await client.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
    assert (await client.get(f"/v1/viewer/consents/{patient['consent_id']}/medications")).status_code == 410
    clock.offset = timedelta(days=2)
    client.cookies.clear()
    auth = await session_of(client, patient["card"])
    assert (await client.get("/v1/portal/consents", headers=auth)).json()["consents"][0]["state"] == "withdrawn"


async def test_another_holders_consent_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    patient = await consented_patient(client, conn, app.state.authority, tmp_path, with_records=False)
    stranger = await make_card(conn, app.state.authority, tmp_path, name_kanji="鈴木一郎", name_kana="スズキ イチロウ")
    auth = await session_of(client, stranger)
    answer = await client.post(f"/v1/portal/consents/{patient['consent_id']}/withdraw", headers=auth)
    assert (answer.status_code, answer.json()["error"]) == (404, "consent_not_found")
    assert await conn.fetchval("SELECT withdrawn_at FROM consents") is None


async def test_suspended_and_revoked_cards_cannot_sign_in(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    for status in ("suspended", "revoked"):
        card = await make_card(conn, app.state.authority, tmp_path)
        await conn.execute("UPDATE certificates SET status = $2 WHERE serial = $1", card.serial, status)
        answer = await sign_in(client, card)
        assert (answer.status_code, answer.json()["error"]) == (409, "certificate_not_usable"), status
        assert status in answer.json()["detail"]


async def test_an_expired_certificate_reads_the_access_log_only(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    card = await make_card(conn, app.state.authority, tmp_path)
    await conn.execute("UPDATE certificates SET not_after = now() - interval '10 days' WHERE serial = $1",
                       card.serial)
    answer = await sign_in(client, card)
    assert answer.json()["access"] == "access_log_only"
    auth = bearer(answer.json()["session_token"])
    assert (await client.get("/v1/portal/access-log", headers=auth)).json() == {"entries": []}
    refused = await client.get("/v1/portal/medications", headers=auth)
    assert (refused.status_code, refused.json()["error"]) == (403, "access_log_only")


async def test_bad_sign_ins_and_sessions_get_clear_errors(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    card = await make_card(conn, app.state.authority, tmp_path)
    first = await sign_in(client, card)
    auth = bearer(first.json()["session_token"])
    replay = await client.post("/v1/portal/sessions", json={"challenge_id": "nope", "certificate": b64(b"x"),
                                                             "signature": b64(b"y")})
    assert (replay.status_code, replay.json()["error"]) == (409, "challenge_not_usable")
    for headers in ({}, bearer("ont_not-a-portal-token"), bearer("onh_unknown")):
        answer = await client.get("/v1/portal/consents", headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (401, "portal_session_required")
    assert (await client.post("/v1/portal/consents/not-a-uuid/withdraw", headers=auth)).status_code == 422
    assert (await client.delete("/v1/portal/sessions", headers=auth)).status_code == 204
    assert (await client.get("/v1/portal/access-log", headers=auth)).status_code == 401


async def test_a_renewed_card_reads_the_log_of_the_old_one(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    patient = await consented_patient(client, conn, app.state.authority, tmp_path, with_records=False)
    staff = await make_staff(conn, facility_code=patient["facility_code"], role="pharmacist")
    await client.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
    assert (await client.get(f"/v1/viewer/consents/{patient['consent_id']}/medications")).status_code == 200
    client.cookies.clear()
    await cards.renew_card(conn, authority=app.state.authority, path=patient["card"].path, actor="test")
    renewed = VirtualCard.load(patient["card"].path)
    assert renewed.serial != patient["card"].serial
    auth = await session_of(client, renewed)
    entries = (await client.get("/v1/portal/access-log", headers=auth)).json()["entries"]
    assert [e["role"] for e in entries] == ["pharmacist"]
