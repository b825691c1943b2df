"""Consent: bound to one verification and its terminal, once, within 5 minutes, 24 hours, withdrawable."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.authority.ca import CertificateAuthority
from service.core.clock import clock
from tests.factories import bearer, card_proof, linked_card, make_card, make_terminal, verify_card


@pytest.fixture
def authority(app: FastAPI) -> CertificateAuthority:
    ca: CertificateAuthority = app.state.authority
    return ca


async def _checked(client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority,
                   tmp_path: Path) -> tuple[dict[str, str], object, str]:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    verification = (await verify_card(client, terminal, card)).json()
    assert verification["viewing_allowed"] is True
    return terminal, card, verification["verification_id"]


async def _consent(client: httpx.AsyncClient, terminal: dict[str, str], verification_id: str,
                   categories: list[str]) -> httpx.Response:
    return await client.post("/v1/consents", json={"verification_id": verification_id, "categories": categories},
                             headers=bearer(terminal["token"]))


async def test_consent_lasts_24_hours_and_is_given_once(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    response = await _consent(client, terminal, verification_id, ["medication", "checkup"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["categories"] == ["medication", "checkup"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - clock.now() <= timedelta(hours=24)
    again = await _consent(client, terminal, verification_id, ["medication"])
    assert (again.status_code, again.json()["error"]) == (409, "consent_not_allowed")


async def test_consent_only_from_the_terminal_that_checked(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    same_facility = await make_terminal(conn, facility_code=terminal["facility_code"])
    assert (await _consent(client, same_facility, verification_id, ["medication"])).status_code == 409
    elsewhere = await make_terminal(conn)
    assert (await _consent(client, elsewhere, verification_id, ["medication"])).status_code == 404
    assert (await _consent(client, terminal, verification_id, ["medication"])).status_code == 201


async def test_consent_window_is_5_minutes(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    clock.offset = timedelta(minutes=5, seconds=1)
    late = await _consent(client, terminal, verification_id, ["medication"])
    assert (late.status_code, late.json()["error"]) == (409, "consent_not_allowed")
    assert "5 minutes" in late.json()["detail"]


async def test_just_inside_the_window(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    clock.offset = timedelta(minutes=4, seconds=55)
    assert (await _consent(client, terminal, verification_id, ["checkup"])).status_code == 201


async def test_no_consent_when_viewing_is_not_allowed(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await make_card(conn, authority, tmp_path)  # not registered
    terminal = await make_terminal(conn)
    verification = (await verify_card(client, terminal, card)).json()
    assert verification["viewing_allowed"] is False
    refused = await _consent(client, terminal, verification["verification_id"], ["medication"])
    assert refused.status_code == 409


async def test_refusal_is_recorded_with_no_category(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    response = await _consent(client, terminal, verification_id, [])
    assert (response.status_code, response.json()["categories"]) == (201, [])
    assert await conn.fetchval("SELECT categories FROM consents") == []


@pytest.mark.parametrize("categories", [["medication", "medication"], ["surgery"]])
async def test_bad_categories(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    categories: list[str],
) -> None:
    terminal, _, verification_id = await _checked(client, conn, authority, tmp_path)
    assert (await _consent(client, terminal, verification_id, categories)).status_code == 422


async def test_withdrawal_needs_the_patients_card(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal, card, verification_id = await _checked(client, conn, authority, tmp_path)
    consent_id = (await _consent(client, terminal, verification_id, ["medication"])).json()["consent_id"]
    stranger = await make_card(conn, authority, tmp_path, name_kanji="他人 花子", name_kana="タニン ハナコ")
    url = f"/v1/consents/{consent_id}/withdraw"
    wrong = await client.post(url, json=await card_proof(client, terminal, stranger, purpose="withdraw_consent"),
                              headers=bearer(terminal["token"]))
    assert wrong.status_code == 404
    right = await client.post(url, json=await card_proof(client, terminal, card, purpose="withdraw_consent"),
                              headers=bearer(terminal["token"]))
    assert right.status_code == 200
    assert right.json()["withdrawn_at"] is not None
