"""Reception checks against the real service: challenges, card proofs, certificate states, validity codes."""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service import cards
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.core.clock import clock
from tests.factories import (
    b64,
    bearer,
    card_proof,
    eligibility_csv,
    eligibility_row,
    holder_of,
    linked_card,
    make_card,
    make_insurer,
    make_terminal,
    upload_and_wait,
    verify_card,
)
from virtualcard import VirtualCard


@pytest.fixture
def authority(app: FastAPI) -> CertificateAuthority:
    ca: CertificateAuthority = app.state.authority
    return ca


async def test_eligible_check_shows_the_coverage(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    response = await verify_card(client, terminal, card)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["result"], body["validity_code"], body["viewing_allowed"]) == ("eligible", 1, True)
    assert body["coverage"]["name_kanji"] == "山田太郎"
    assert (body["coverage"]["symbol"], body["coverage"]["number"], body["coverage"]["branch"]) == (
        "12",
        "345678",
        "01",
    )
    assert body["coverage"]["copay_ratio"] == 30
    assert body["certificate"] == {
        "serial": card.serial,
        "not_after": body["certificate"]["not_after"],
        "status": "valid",
    }
    stored = await conn.fetchrow(
        "SELECT result, presence_method FROM verifications WHERE id = $1::uuid", body["verification_id"]
    )
    assert tuple(stored.values()) == ("eligible", "pin")


async def test_a_challenge_is_single_use(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    body = {**await card_proof(client, terminal, card, purpose="verify"), "presence": {"method": "pin"}}
    first = await client.post("/v1/verifications", json=body, headers=bearer(terminal["token"]))
    replay = await client.post("/v1/verifications", json=body, headers=bearer(terminal["token"]))
    assert first.status_code == 200
    assert (replay.status_code, replay.json()["error"]) == (409, "challenge_not_usable")


async def test_an_expired_challenge_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    body = {**await card_proof(client, terminal, card, purpose="verify"), "presence": {"method": "pin"}}
    clock.offset = timedelta(seconds=61)
    late = await client.post("/v1/verifications", json=body, headers=bearer(terminal["token"]))
    assert (late.status_code, late.json()["error"]) == (409, "challenge_expired")


async def test_a_foreign_challenge_is_refused_and_stays_usable_for_its_terminal(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    mine, other = await make_terminal(conn), await make_terminal(conn)
    body = {**await card_proof(client, mine, card, purpose="verify"), "presence": {"method": "pin"}}
    stolen = await client.post("/v1/verifications", json=body, headers=bearer(other["token"]))
    assert (stolen.status_code, stolen.json()["error"]) == (409, "challenge_not_usable")
    wrong_purpose = await client.post(
        "/v1/registrations",
        json={k: body[k] for k in ("challenge_id", "certificate", "signature")},
        headers=bearer(mine["token"]),
    )
    assert wrong_purpose.status_code == 409
    own = await client.post("/v1/verifications", json=body, headers=bearer(mine["token"]))
    assert own.status_code == 200


async def test_signature_by_another_card_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    thief = await make_card(conn, authority, tmp_path, name_kanji="泥棒 次郎", name_kana="ドロボウ ジロウ")
    terminal = await make_terminal(conn)
    proof = await card_proof(client, terminal, thief, purpose="verify")
    proof["certificate"] = b64(card.certificate_der)  # the victim's certificate, the thief's signature
    response = await client.post(
        "/v1/verifications", json={**proof, "presence": {"method": "visual"}}, headers=bearer(terminal["token"])
    )
    assert (response.status_code, response.json()["error"]) == (422, "bad_signature")


async def test_a_certificate_from_another_authority_is_untrusted(
    client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    forger = CertificateAuthority.generate(name="Onshi Demo Authority")  # same name, another key
    certificate, key = authority_service.issue_certificate(forger, birthdate=eligibility_row_birthdate())
    from cryptography.hazmat.primitives.serialization import Encoding

    card = VirtualCard.create(
        tmp_path / "forged.json", certificate_der=certificate.public_bytes(Encoding.DER), private_key=key, pin="1234"
    )
    terminal = await make_terminal(conn)
    response = await verify_card(client, terminal, card)
    assert (response.status_code, response.json()["error"]) == (422, "untrusted_certificate")
    garbage = {**await card_proof(client, terminal, card, purpose="verify"), "presence": {"method": "pin"}}
    garbage["certificate"] = base64.b64encode(b"garbage").decode()
    response = await client.post("/v1/verifications", json=garbage, headers=bearer(terminal["token"]))
    assert (response.status_code, response.json()["error"]) == (422, "malformed_certificate")


def eligibility_row_birthdate():  # type: ignore[no-untyped-def]
    from datetime import date

    return date(1980, 4, 1)


async def _status(conn: asyncpg.Connection, serial: str, action: str) -> None:
    async with conn.transaction():
        await authority_service.change_status(conn, serial=serial, action=action, reason=None, actor="test")


async def test_suspended_revoked_and_released_certificates(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    await _status(conn, card.serial, "suspend")
    suspended = (await verify_card(client, terminal, card)).json()
    assert (suspended["result"], suspended["validity_code"], suspended["coverage"]) == (
        "certificate_suspended",
        None,
        None,
    )
    assert suspended["viewing_allowed"] is False
    await _status(conn, card.serial, "release")
    assert (await verify_card(client, terminal, card)).json()["result"] == "eligible"
    await _status(conn, card.serial, "revoke")
    revoked = (await verify_card(client, terminal, card)).json()
    assert (revoked["result"], revoked["certificate"]["status"]) == ("certificate_revoked", "revoked")


async def test_expired_certificate_grace_then_expiry(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    not_after = await conn.fetchval("SELECT not_after FROM certificates WHERE serial = $1", card.serial)
    clock.offset = (not_after - datetime.now(UTC)) + timedelta(days=10)
    grace = (await verify_card(client, terminal, card, as_of="2026-06-01")).json()
    assert (grace["result"], grace["validity_code"], grace["viewing_allowed"]) == ("eligible", 1, False)
    assert grace["certificate"]["status"] == "expired_grace"
    clock.offset = (not_after - datetime.now(UTC)) + timedelta(days=95)
    expired = (await verify_card(client, terminal, card)).json()
    assert (expired["result"], expired["viewing_allowed"]) == ("certificate_expired", False)


async def test_a_renewed_card_works_at_once_and_the_old_one_does_not(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    shutil.copy(card.path, tmp_path / "old-copy.json")  # the old card's credentials, as a thief might keep them
    old = VirtualCard.load(tmp_path / "old-copy.json")
    async with conn.transaction():
        await cards.renew_card(conn, authority=authority, path=card.path, actor="test")
    renewed = VirtualCard.load(card.path)
    terminal = await make_terminal(conn)
    new_answer = (await verify_card(client, terminal, renewed)).json()
    assert (new_answer["result"], new_answer["certificate"]["serial"]) == ("eligible", renewed.serial)
    old_answer = (await verify_card(client, terminal, old)).json()
    assert old_answer["result"] == "certificate_revoked"


async def test_validity_codes(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    ended = await linked_card(
        client, conn, authority, tmp_path, row=eligibility_row(qualified_on="2020-04-01", disqualified_on="2025-04-01")
    )
    assert (await verify_card(client, terminal, ended, as_of="2024-01-01")).json()["validity_code"] == 1
    code2 = (await verify_card(client, terminal, ended, as_of="2025-04-01")).json()
    assert (code2["result"], code2["validity_code"]) == ("not_eligible", 2)
    assert code2["coverage"]["disqualified_on"] == "2025-04-01"
    assert (await verify_card(client, terminal, ended, as_of="2019-01-01")).json()["validity_code"] == 4


async def test_job_change_answers_the_new_record_and_code_3_between(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    card = await linked_card(
        client, conn, authority, tmp_path, row=eligibility_row(record_id="OLD", disqualified_on="2026-04-01")
    )
    new_insurer = await make_insurer(conn)
    status = await upload_and_wait(
        client,
        insurer=new_insurer,
        body=eligibility_csv(
            [
                eligibility_row(record_id="NEW", symbol="88", qualified_on="2026-05-01"),
            ]
        ),
    )
    assert status["linked"] == 1
    gap = (await verify_card(client, terminal, card, as_of="2026-04-15")).json()
    assert (gap["validity_code"], gap["coverage"]["symbol"]) == (3, "12")
    after = (await verify_card(client, terminal, card, as_of="2026-06-01")).json()
    assert (after["validity_code"], after["coverage"]["insurer_number"]) == (1, new_insurer["insurer_number"])


async def test_not_registered_and_no_record(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    card = await make_card(conn, authority, tmp_path)
    unregistered = (await verify_card(client, terminal, card)).json()
    assert (unregistered["result"], unregistered["validity_code"]) == ("not_registered", None)
    registered = await client.post(
        "/v1/registrations",
        json=await card_proof(client, terminal, card, purpose="register"),
        headers=bearer(terminal["token"]),
    )
    assert registered.json() == {"status": "no_match", "coverage": None}
    code4 = (await verify_card(client, terminal, card)).json()
    assert (code4["result"], code4["validity_code"]) == ("not_eligible", 4)


async def test_ambiguous_holder_answers_code_5(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    insurer = await make_insurer(conn)
    await upload_and_wait(
        client,
        insurer=insurer,
        body=eligibility_csv(
            [
                eligibility_row(record_id="X1"),
                eligibility_row(record_id="X2", number="222222"),
            ]
        ),
    )
    card = await make_card(conn, authority, tmp_path)
    registered = await client.post(
        "/v1/registrations",
        json=await card_proof(client, terminal, card, purpose="register"),
        headers=bearer(terminal["token"]),
    )
    assert registered.json()["status"] == "ambiguous"
    answer = (await verify_card(client, terminal, card)).json()
    assert (answer["result"], answer["validity_code"], answer["coverage"]) == ("not_eligible", 5, None)


async def test_face_presence_needs_liveness(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    refused = await verify_card(
        client, terminal, card, presence={"method": "face", "face_distance": 0.3, "liveness_passed": False}
    )
    assert (refused.status_code, refused.json()["error"]) == (422, "presence_not_established")
    accepted = await verify_card(
        client, terminal, card, presence={"method": "face", "face_distance": 0.31, "liveness_passed": True}
    )
    assert accepted.json()["result"] == "eligible"
    stored = await conn.fetchrow(
        "SELECT face_distance, liveness_passed FROM verifications WHERE id = $1::uuid",
        accepted.json()["verification_id"],
    )
    assert (round(stored["face_distance"], 2), stored["liveness_passed"]) == (0.31, True)


async def test_registration_and_unlink_by_the_holder(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="R1")]))
    card = await make_card(conn, authority, tmp_path)
    headers = bearer(terminal["token"])
    linked = await client.post(
        "/v1/registrations", json=await card_proof(client, terminal, card, purpose="register"), headers=headers
    )
    assert linked.json()["status"] == "linked"
    assert linked.json()["coverage"]["insurer_number"] == insurer["insurer_number"]
    again = await client.post(
        "/v1/registrations", json=await card_proof(client, terminal, card, purpose="register"), headers=headers
    )
    assert again.json()["status"] == "already_linked"
    unlinked = await client.post(
        "/v1/registrations/unlink", json=await card_proof(client, terminal, card, purpose="unregister"), headers=headers
    )
    assert unlinked.json() == {"status": "unlinked"}
    twice = await client.post(
        "/v1/registrations/unlink", json=await card_proof(client, terminal, card, purpose="unregister"), headers=headers
    )
    assert (twice.status_code, twice.json()["error"]) == (409, "not_registered")
    assert (await verify_card(client, terminal, card)).json()["result"] == "not_registered"


async def test_a_suspended_card_cannot_register(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    card = await make_card(conn, authority, tmp_path)
    await _status(conn, card.serial, "suspend")
    response = await client.post(
        "/v1/registrations",
        json=await card_proof(client, terminal, card, purpose="register"),
        headers=bearer(terminal["token"]),
    )
    assert (response.status_code, response.json()["error"]) == (409, "certificate_not_usable")
    assert (
        await conn.fetchval("SELECT count(*) FROM registrations WHERE holder_id = $1", await holder_of(conn, card)) == 0
    )


async def test_only_terminals_make_challenges(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    response = await client.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(insurer["token"]))
    assert response.status_code == 403
    terminal = await make_terminal(conn)
    bad = await client.post("/v1/challenges", json={"purpose": "shop"}, headers=bearer(terminal["token"]))
    assert bad.status_code == 422


async def test_the_answer_keeps_the_contract_wire_format(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    """Typed fields (CoverageOut, dates, timestamps) answer exactly what the contract shows: keys in its order,
    dates YYYY-MM-DD, timestamps with their offset written `+00:00` (never pydantic's `Z`)."""
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    body = (await verify_card(client, terminal, card)).json()
    assert list(body["coverage"]) == [
        "insurer_number", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana", "birthdate", "sex",
        "qualified_on", "disqualified_on", "copay_ratio", "limit_category",
    ]
    assert body["coverage"]["birthdate"] == "1980-04-01" and body["coverage"]["disqualified_on"] is None
    assert body["as_of"] == clock.today_jst().isoformat()
    not_after = body["certificate"]["not_after"]
    assert not_after.endswith("+00:00") and datetime.fromisoformat(not_after).tzinfo is not None
    challenge = (await client.post("/v1/challenges", headers=bearer(terminal["token"]),
                                   json={"purpose": "verify"})).json()
    assert challenge["expires_at"].endswith("+00:00")


async def test_openapi_describes_the_coverage_and_timestamps(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    coverage = schemas["CoverageOut"]["properties"]
    assert coverage["birthdate"] == {"type": "string", "format": "date", "title": "Birthdate"}
    assert schemas["CertificateInfo"]["properties"]["not_after"]["format"] == "date-time"
    assert "CoverageOut" in str(schemas["VerificationOut"]["properties"]["coverage"])
