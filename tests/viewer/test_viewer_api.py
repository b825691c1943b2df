"""The staff viewer API: login, consented patients, consent-gated records, every role and facility type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service import cards
from service.accounts import service as accounts
from service.core.clock import clock
from tests.factories import (
    bearer,
    card_proof,
    checkup_csv,
    checkup_row,
    linked_card,
    make_claims_processor,
    make_insurer,
    make_terminal,
    medication_csv,
    medication_row,
    post_batch_and_wait,
    verify_card,
)
from virtualcard import VirtualCard

PASSWORD = "correct horse battery"
ROLES = ("reception", "doctor", "dentist", "pharmacist")
TYPES = ("clinic", "hospital", "dental", "pharmacy")
# The seed's rule, written out: who may view what (reception never; checkups at medical institutions only).
MAY_VIEW = {
    "medication": {("clinic", "doctor"), ("hospital", "doctor"), ("hospital", "dentist"), ("hospital", "pharmacist"),
                   ("dental", "dentist"), ("pharmacy", "pharmacist")},
    "checkup": {("clinic", "doctor"), ("hospital", "doctor"), ("hospital", "dentist"), ("hospital", "pharmacist"),
                ("dental", "dentist")},
}


async def _records(client: httpx.AsyncClient, conn: asyncpg.Connection, insurer: dict[str, str]) -> None:
    claims = await make_claims_processor(conn)
    meds = [medication_row(insurer_number=insurer["insurer_number"], dispensed_on=d, drug_name=n)
            for d, n in (("2025-10-01", "アムロジピン錠5mg"), ("2019-01-10", "古いお薬錠"))]
    await post_batch_and_wait(client, url="/v1/claims/medication-batches", token=claims["token"],
                              body=medication_csv(meds))
    checks = [checkup_row(examined_on=d, hba1c=h) for d, h in (("2025-06-01", "5.9"), ("2019-06-01", "5.4"))]
    await post_batch_and_wait(client, url=f"/v1/insurers/{insurer['insurer_number']}/checkup-batches",
                              token=insurer["token"], body=checkup_csv(checks))


async def _consent(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path, *, facility_type: str,
    categories: list[str],
) -> dict[str, Any]:
    insurer = await make_insurer(conn, number="06130017")
    card = await linked_card(client, conn, app.state.authority, tmp_path, insurer=insurer)
    await _records(client, conn, insurer)
    terminal = await make_terminal(conn, type_=facility_type)
    verification = (await verify_card(client, terminal, card)).json()
    consent = await client.post("/v1/consents", json={"verification_id": verification["verification_id"],
                                                      "categories": categories}, headers=bearer(terminal["token"]))
    assert consent.status_code == 201, consent.text
    return {"consent_id": consent.json()["consent_id"], "facility_code": terminal["facility_code"], "card": card,
            "terminal": terminal}


@pytest.fixture
async def staff_session(app: FastAPI, conn: asyncpg.Connection) -> AsyncIterator[Any]:
    """Log staff in with their own cookie jar: staff_session(facility_code, role) -> client."""
    opened: list[httpx.AsyncClient] = []

    async def login(facility_code: str, role: str) -> httpx.AsyncClient:
        login_name = f"{role}-{facility_code}-{len(opened)}"
        await accounts.create_staff(conn, facility_code=facility_code, role=role, login=login_name,
                                    password=PASSWORD)
        session = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")
        opened.append(session)
        response = await session.post("/v1/staff/login", json={"login": login_name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        session.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return session

    yield login
    for session in opened:
        await session.aclose()


async def test_login_logout_and_csrf(client: httpx.AsyncClient, conn: asyncpg.Connection, staff_session: Any) -> None:
    terminal = await make_terminal(conn, type_="pharmacy")
    bad = await client.post("/v1/staff/login", json={"login": "nobody", "password": "whatever1"})
    assert (bad.status_code, bad.json()["error"]) == (401, "bad_credentials")
    session = await staff_session(terminal["facility_code"], "pharmacist")
    cookie = session.cookies.get("onshi_session")
    assert cookie
    assert (await session.get("/v1/viewer/consents")).status_code == 200
    no_csrf = await session.post("/v1/staff/logout", headers={"X-CSRF-Token": "wrong"})
    assert no_csrf.status_code == 403
    assert (await session.post("/v1/staff/logout")).status_code == 200
    session.cookies.set("onshi_session", cookie)  # the old cookie, replayed after logout
    assert (await session.get("/v1/viewer/consents")).status_code == 401


async def test_a_pharmacist_sees_the_consented_patient_and_3_years_of_medication(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="pharmacy", categories=["medication"])
    session = await staff_session(given["facility_code"], "pharmacist")
    patients = (await session.get("/v1/viewer/consents")).json()
    assert [(p["consent_id"], p["name_kanji"], p["categories"]) for p in patients] == [
        (given["consent_id"], "山田太郎", ["medication"])]
    meds = await session.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert meds.status_code == 200
    assert [r["drug_name"] for r in meds.json()["records"]] == ["アムロジピン錠5mg"]  # the 2019 one is too old
    checkups = await session.get(f"/v1/viewer/consents/{given['consent_id']}/checkups")
    assert (checkups.status_code, checkups.json()["error"]) == (403, "role_cannot_view")  # pharmacies: seed rule


async def test_a_doctor_sees_5_years_of_checkups(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="clinic", categories=["checkup"])
    session = await staff_session(given["facility_code"], "doctor")
    checkups = (await session.get(f"/v1/viewer/consents/{given['consent_id']}/checkups")).json()
    assert [r["examined_on"] for r in checkups["records"]] == ["2025-06-01"]
    not_consented = await session.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert (not_consented.status_code, not_consented.json()["error"]) == (403, "category_not_consented")


@pytest.mark.parametrize("facility_type", TYPES)
async def test_every_role_at_every_kind_of_facility(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any,
    facility_type: str,
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type=facility_type,
                           categories=["medication", "checkup"])
    for role in ROLES:
        session = await staff_session(given["facility_code"], role)
        listing = await session.get("/v1/viewer/consents")
        # no patient list (names, birthdates) for a role that may view nothing here: a clinic's dentist
        may_view_some = any((facility_type, role) in allowed for allowed in MAY_VIEW.values())
        assert listing.status_code == (200 if may_view_some else 403), (facility_type, role)
        for category, path in (("medication", "medications"), ("checkup", "checkups")):
            response = await session.get(f"/v1/viewer/consents/{given['consent_id']}/{path}")
            expected = 200 if (facility_type, role) in MAY_VIEW[category] else 403
            assert response.status_code == expected, (facility_type, role, category, response.text)


async def test_another_facility_gets_404(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="pharmacy", categories=["medication"])
    elsewhere = await make_terminal(conn, type_="pharmacy")
    session = await staff_session(elsewhere["facility_code"], "pharmacist")
    assert (await session.get("/v1/viewer/consents")).json() == []
    response = await session.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert (response.status_code, response.json()["error"]) == (404, "consent_not_found")


async def test_consent_expires_after_24_hours(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="pharmacy", categories=["medication"])
    session = await staff_session(given["facility_code"], "pharmacist")
    url = f"/v1/viewer/consents/{given['consent_id']}/medications"
    clock.offset = timedelta(hours=23, minutes=59)
    assert (await session.get(url)).status_code == 200
    clock.offset = timedelta(hours=24, seconds=1)
    expired = await session.get(url)
    assert (expired.status_code, expired.json()["error"]) == (410, "consent_gone")
    assert (await session.get("/v1/viewer/consents")).json() == []


async def test_withdrawn_consent_is_gone(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="pharmacy", categories=["medication"])
    session = await staff_session(given["facility_code"], "pharmacist")
    withdrawn = await client.post(
        f"/v1/consents/{given['consent_id']}/withdraw", headers=bearer(given["terminal"]["token"]),
        json=await card_proof(client, given["terminal"], given["card"], purpose="withdraw_consent"),
    )
    assert withdrawn.status_code == 200
    response = await session.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert response.status_code == 410


async def test_the_holder_reads_every_view_across_a_renewal(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="pharmacy", categories=["medication"])
    session = await staff_session(given["facility_code"], "pharmacist")
    await session.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    async with conn.transaction():
        await cards.renew_card(conn, authority=app.state.authority, path=given["card"].path, actor="test")
    renewed = VirtualCard.load(given["card"].path)
    log = await client.post("/v1/me/access-log", headers=bearer(given["terminal"]["token"]),
                            json=await card_proof(client, given["terminal"], renewed, purpose="access_log"))
    assert log.status_code == 200, log.text
    entries = log.json()["entries"]
    assert [(e["facility_code"], e["role"], e["category"]) for e in entries] == [
        (given["facility_code"], "pharmacist", "medication")]
    assert entries[0]["facility_name"] == "テスト医院"


async def test_reception_sees_eligibility_only(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_session: Any
) -> None:
    given = await _consent(client, conn, app, tmp_path, facility_type="clinic", categories=["medication", "checkup"])
    session = await staff_session(given["facility_code"], "reception")
    for path in ("medications", "checkups"):
        response = await session.get(f"/v1/viewer/consents/{given['consent_id']}/{path}")
        assert (response.status_code, response.json()["error"]) == (403, "role_cannot_view")
    assert await conn.fetchval("SELECT count(*) FROM access_log") == 0  # refused views are not views


async def test_a_non_ascii_csrf_token_is_refused_not_a_crash(conn: asyncpg.Connection, staff_session: Any) -> None:
    terminal = await make_terminal(conn, type_="pharmacy")
    session = await staff_session(terminal["facility_code"], "pharmacist")
    response = await session.post("/v1/staff/logout", headers={"X-CSRF-Token": "トークン".encode()})
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
