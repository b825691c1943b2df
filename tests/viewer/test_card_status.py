"""Suspension and revocation are honoured on every viewer read; a role that may view nothing at its kind of
facility gets no patient list (names, birthdates)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from service.authority import service as authority_service
from tests.factories import b64, bearer, consented_patient, make_operator, make_staff


async def _logged_in(app: FastAPI, staff: dict[str, str]) -> httpx.AsyncClient:
    session = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")
    response = await session.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
    assert response.status_code == 200, response.text
    return session


async def _reads(session: httpx.AsyncClient, consent_id: str) -> tuple[int, int, list[str]]:
    listing = await session.get("/v1/viewer/consents")
    medications = await session.get(f"/v1/viewer/consents/{consent_id}/medications")
    page = await session.get(f"/viewer/consents/{consent_id}")
    return medications.status_code, page.status_code, [p["consent_id"] for p in listing.json()]


async def _patient(app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path) -> Any:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    categories=("medication",))
    doctor = await make_staff(conn, facility_code=given["facility_code"], role="doctor")
    return given, await _logged_in(app, doctor)


async def test_a_suspended_card_stops_every_read_until_released(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    given, doctor = await _patient(app, client, conn, tmp_path)
    consent_id, serial = given["consent_id"], given["card"].serial
    assert await _reads(doctor, consent_id) == (200, 200, [consent_id])
    operator = bearer(await make_operator(conn))
    url = f"/v1/authority/certificates/{serial}"
    assert (await client.post(f"{url}/suspend", json={"reason": "certificateHold"}, headers=operator)).is_success
    blocked = await doctor.get(f"/v1/viewer/consents/{consent_id}/medications")
    assert (blocked.status_code, blocked.json()["error"]) == (403, "certificate_not_usable")
    assert "suspended" in blocked.json()["detail"]
    assert await _reads(doctor, consent_id) == (403, 403, [])  # not in the list either
    views = await conn.fetchval("SELECT count(*) FROM access_log")
    assert (await client.post(f"{url}/release", json={"reason": "removeFromCRL"}, headers=operator)).is_success
    assert await _reads(doctor, consent_id) == (200, 200, [consent_id])
    assert await conn.fetchval("SELECT count(*) FROM access_log") == views + 2  # blocked reads viewed nothing
    await doctor.aclose()


async def test_a_revoked_card_stops_every_read_and_a_renewed_one_does_not(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    given, doctor = await _patient(app, client, conn, tmp_path)
    operator = bearer(await make_operator(conn))
    certificate, _ = authority_service.issue_certificate(app.state.authority, birthdate=date(1980, 4, 1))
    renewed = await client.post("/v1/authority/renewals", headers=operator, json={
        "old_serial": given["card"].serial, "certificate": b64(certificate.public_bytes(Encoding.DER))})
    assert renewed.status_code == 201, renewed.text
    # the consent's card was revoked as superseded by its renewal: the new card decides, and it is valid
    assert await _reads(doctor, given["consent_id"]) == (200, 200, [given["consent_id"]])
    new_serial = str(certificate.serial_number)
    revoked = await client.post(f"/v1/authority/certificates/{new_serial}/revoke", json={"reason": "keyCompromise"},
                                headers=operator)
    assert revoked.is_success, revoked.text
    assert await _reads(doctor, given["consent_id"]) == (403, 403, [])
    await doctor.aclose()


async def test_a_clinic_dentist_or_pharmacist_gets_no_patient_list(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    given, doctor = await _patient(app, client, conn, tmp_path)
    await doctor.aclose()
    for role in ("dentist", "pharmacist"):
        staff = await make_staff(conn, facility_code=given["facility_code"], role=role)
        session = await _logged_in(app, staff)
        listing = await session.get("/v1/viewer/consents")
        assert (listing.status_code, listing.json()["error"]) == (403, "role_cannot_view"), role
        assert "山田" not in listing.text
        page = await session.get("/viewer/")
        assert page.status_code == 403 and "山田" not in page.text and "閲覧できません" in page.text
        patient = await session.get(f"/viewer/consents/{given['consent_id']}")
        assert patient.status_code == 403 and "山田" not in patient.text
        await session.aclose()
