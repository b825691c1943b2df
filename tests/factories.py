"""Factories: plain async functions with keyword overrides, creating things through the real service code."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from service.accounts import service as accounts
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.authority.schemas import IdentityAttributes
from service.core.identifiers import insurer_check_digit
from service.core.security import hash_token

_counter = itertools.count(1)

ELIGIBILITY_HEADER = (
    "record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,postal_code,"
    "qualified_on,disqualified_on,copay_ratio,limit_category"
)


def insurer_number(prefix: str = "0613") -> str:
    """A fresh valid 8-digit insurer number."""
    body = f"{prefix}{next(_counter) % 1000:03d}"
    return body + str(insurer_check_digit(body))


async def make_insurer(
    conn: asyncpg.Connection, *, number: str | None = None, name: str = "テスト健保"
) -> dict[str, str]:
    """An insurer and its token."""
    return await accounts.create_insurer(conn, number=number or insurer_number(), name=name)


async def make_facility(conn: asyncpg.Connection, *, type_: str = "clinic", code: str | None = None) -> str:
    """A facility; returns its code."""
    chosen = code or f"13{next(_counter):08d}"
    await accounts.create_facility(conn, code=chosen, name="テスト医院", type_=type_)
    return chosen


async def make_operator(conn: asyncpg.Connection) -> str:
    """An operator token."""
    return (await accounts.create_operator(conn))["token"]


def identity(**overrides: Any) -> IdentityAttributes:
    """Identity attributes with sensible defaults."""
    values: dict[str, Any] = {
        "name_kanji": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "birthdate": date(1980, 4, 1),
        "sex": 1,
        "address": "東京都千代田区霞が関1丁目2番3号",
    }
    values.update(overrides)
    return IdentityAttributes(**values)


async def make_holder(conn: asyncpg.Connection, authority: CertificateAuthority, **overrides: Any) -> tuple[int, str]:
    """A holder with an issued certificate; returns (holder_id, serial)."""
    attrs = identity(**overrides)
    certificate, _key = authority_service.issue_certificate(authority, birthdate=attrs.birthdate)
    registered = await authority_service.register_holder(
        conn,
        authority=authority,
        certificate_der=certificate.public_bytes(Encoding.DER),
        identity=attrs,
        actor="test",
    )
    return registered.holder_id, registered.serial


def eligibility_row(**overrides: Any) -> dict[str, str]:
    """An eligibility row (as CSV strings) for the default identity."""
    row = {
        "record_id": f"R{next(_counter):06d}",
        "action": "upsert",
        "symbol": "12",
        "number": "345678",
        "branch": "01",
        "holder_kind": "1",
        "name_kanji": "山田太郎",
        "name_kana": "ヤマダ タロウ",
        "birthdate": "1980-04-01",
        "sex": "1",
        "address": "千代田区霞が関1-2-3",
        "postal_code": "1000013",
        "qualified_on": "2020-04-01",
        "disqualified_on": "",
        "copay_ratio": "30",
        "limit_category": "",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def eligibility_csv(rows: Sequence[dict[str, str]], *, header: str = ELIGIBILITY_HEADER) -> bytes:
    """A CSV body."""
    columns = header.split(",")
    lines = [header] + [",".join(_csv_field(row.get(c, "")) for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\n') else value


def bearer(token: str) -> dict[str, str]:
    """Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    """Base64 text."""
    return base64.b64encode(data).decode()


async def upload(
    client: httpx.AsyncClient,
    *,
    insurer: dict[str, str],
    body: bytes,
    key: str | None = None,
    content_type: str = "text/csv",
) -> httpx.Response:
    """POST an eligibility batch."""
    return await client.post(
        f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches",
        content=body,
        headers={
            **bearer(insurer["token"]),
            "Idempotency-Key": key or f"key-{next(_counter)}",
            "Content-Type": content_type,
        },
    )


async def wait_for_batch(client: httpx.AsyncClient, *, insurer: dict[str, str], batch_id: str) -> dict[str, Any]:
    """The batch's status once it is done or failed."""
    url = f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches/{batch_id}"
    return await wait_for_status(client, url=url, token=insurer["token"])


async def upload_and_wait(
    client: httpx.AsyncClient, *, insurer: dict[str, str], body: bytes, **kw: Any
) -> dict[str, Any]:
    """Upload a batch and return its final status."""
    response = await upload(client, insurer=insurer, body=body, **kw)
    assert response.status_code == 202, response.text
    return await wait_for_batch(client, insurer=insurer, batch_id=response.json()["batch_id"])


MEDICATION_HEADER = (
    "record_id,insurer_number,symbol,number,branch,dispensed_on,drug_code,drug_name,quantity,unit,days,facility_code"
)
CHECKUP_HEADER = (
    "record_id,symbol,number,branch,examined_on,height_cm,weight_kg,bmi,waist_cm,systolic_bp,diastolic_bp,hba1c,"
    "ldl,hdl,triglycerides,ast,alt,gamma_gtp"
)


async def make_claims_processor(conn: asyncpg.Connection, *, name: str = "テスト審査支払機関") -> dict[str, str]:
    """A claims processor and its token ({"claims_processor_id", "token"})."""
    created = await accounts.create_claims_processor(conn, name=name)
    processor_id = await conn.fetchval(
        "SELECT claims_processor_id::text FROM api_tokens WHERE token_hash = $1", hash_token(created["token"])
    )
    return {"claims_processor_id": processor_id, **created}


def medication_row(**overrides: Any) -> dict[str, str]:
    """A dispensed-medication row (as CSV strings)."""
    row = {
        "record_id": f"M{next(_counter):06d}",
        "insurer_number": "06130017",
        "symbol": "12",
        "number": "345678",
        "branch": "01",
        "dispensed_on": "2024-05-01",
        "drug_code": "2149039F1020",
        "drug_name": "アムロジピン錠5mg",
        "quantity": "1",
        "unit": "錠",
        "days": "28",
        "facility_code": "1312345678",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def checkup_row(**overrides: Any) -> dict[str, str]:
    """A checkup row (as CSV strings); empty measures are not measured."""
    row = dict.fromkeys(CHECKUP_HEADER.split(","), "")
    row.update(
        {
            "record_id": f"K{next(_counter):06d}",
            "symbol": "12",
            "number": "345678",
            "branch": "01",
            "examined_on": "2024-06-01",
            "height_cm": "170.2",
            "weight_kg": "65.5",
            "bmi": "22.6",
            "systolic_bp": "128",
            "diastolic_bp": "82",
            "hba1c": "5.6",
        }
    )
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def medication_csv(rows: Sequence[dict[str, str]], *, header: str = MEDICATION_HEADER) -> bytes:
    """A medication CSV body."""
    return eligibility_csv(rows, header=header)


def checkup_csv(rows: Sequence[dict[str, str]], *, header: str = CHECKUP_HEADER) -> bytes:
    """A checkup CSV body."""
    return eligibility_csv(rows, header=header)


async def post_batch(
    client: httpx.AsyncClient,
    *,
    url: str,
    token: str,
    body: bytes,
    key: str | None = None,
    content_type: str = "text/csv",
) -> httpx.Response:
    """POST a batch of any kind to `url`."""
    headers = {**bearer(token), "Idempotency-Key": key or f"key-{next(_counter)}", "Content-Type": content_type}
    return await client.post(url, content=body, headers=headers)


async def wait_for_status(client: httpx.AsyncClient, *, url: str, token: str) -> dict[str, Any]:
    """Poll a batch status URL until the batch is done or failed.

    The in-process app (tests/conftest.py: AppClient) runs no worker in the background: its batches are processed
    here, before the first look. A live server processes its own.
    """
    import asyncio

    for _ in range(600):
        if (run_batches := getattr(client, "run_batches", None)) is not None:
            await run_batches()
        body: dict[str, Any] = (await client.get(url, headers=bearer(token))).json()
        if body["status"] in {"done", "failed"}:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch at {url} did not finish: {body}")


async def post_batch_and_wait(
    client: httpx.AsyncClient, *, url: str, token: str, body: bytes, **kw: Any
) -> dict[str, Any]:
    """POST a batch and return its final status."""
    response = await post_batch(client, url=url, token=token, body=body, **kw)
    assert response.status_code == 202, response.text
    return await wait_for_status(client, url=response.json()["status_url"], token=token)


# --- reception: terminals, cards, card proofs ------------------------------------------------------------------


async def make_terminal(
    conn: asyncpg.Connection, *, facility_code: str | None = None, type_: str = "clinic"
) -> dict[str, str]:
    """A terminal (and its facility unless given): {"terminal_id", "token", "facility_code"}."""
    code = facility_code or await make_facility(conn, type_=type_)
    return {**await accounts.create_terminal(conn, facility_code=code), "facility_code": code}


async def make_card(
    conn: asyncpg.Connection, authority: CertificateAuthority, directory: Any, *, pin: str = "1234", **overrides: Any
) -> Any:
    """A virtual card issued by the authority with the holder's attributes recorded; returns the VirtualCard."""
    from pathlib import Path

    from service import cards
    from virtualcard import VirtualCard

    path = Path(directory) / f"card-{next(_counter)}.json"
    await cards.issue_card(
        conn,
        authority=authority,
        out=path,
        identity=identity(**overrides),
        photo=(b"", "jp2"),
        pin=pin,
        pin_retry_limit=3,
        actor="test",
    )
    return VirtualCard.load(path)


async def holder_of(conn: asyncpg.Connection, card: Any) -> int:
    """The holder id behind a card."""
    value = await conn.fetchval("SELECT holder_id FROM certificates WHERE serial = $1", card.serial)
    return int(value)


async def card_proof(
    client: httpx.AsyncClient, terminal: dict[str, str], card: Any, *, purpose: str, pin: str | None = None
) -> dict[str, str]:
    """A fresh challenge of this terminal, signed by the card: the contract's card proof."""
    response = await client.post("/v1/challenges", json={"purpose": purpose}, headers=bearer(terminal["token"]))
    assert response.status_code == 201, response.text
    challenge = response.json()
    signature = card.sign(base64.b64decode(challenge["nonce"]), pin=pin)
    return {
        "challenge_id": challenge["challenge_id"],
        "certificate": b64(card.certificate_der),
        "signature": b64(signature),
    }


async def verify_card(
    client: httpx.AsyncClient,
    terminal: dict[str, str],
    card: Any,
    *,
    presence: dict[str, Any] | None = None,
    as_of: str | None = None,
) -> httpx.Response:
    """A reception check with a fresh card proof."""
    body: dict[str, Any] = {
        **await card_proof(client, terminal, card, purpose="verify"),
        "presence": presence or {"method": "pin"},
    }
    if as_of:
        body["as_of"] = as_of
    return await client.post("/v1/verifications", json=body, headers=bearer(terminal["token"]))


async def linked_card(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    authority: CertificateAuthority,
    directory: Any,
    *,
    insurer: dict[str, str] | None = None,
    row: dict[str, str] | None = None,
    **overrides: Any,
) -> Any:
    """A card whose holder is registered and linked to an uploaded record (the default identity)."""
    from service.linking import service as linking

    insurer = insurer or await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([row or eligibility_row()]))
    assert status["rows_accepted"] == 1, status
    card = await make_card(conn, authority, directory, **overrides)
    async with conn.transaction():
        outcome = await linking.register(conn, holder_id=await holder_of(conn, card), serial=card.serial, actor="test")
    assert outcome.status == "linked", outcome.status
    return card


# --- staff viewer: staff, named facilities, a consented patient with records (viewer pages, browser) ---------

STAFF_PASSWORD = "correct horse battery staple"
FACILITY_NAMES = {"clinic": "やまだ内科クリニック", "hospital": "中央総合病院", "dental": "さくら歯科医院",
                  "pharmacy": "ひかり調剤薬局"}


async def make_named_facility(conn: asyncpg.Connection, *, type_: str = "pharmacy", name: str | None = None) -> str:
    """A facility with a name that reads like one (the viewer shows it); returns its code."""
    code = f"13{next(_counter):08d}"
    await accounts.create_facility(conn, code=code, name=name or FACILITY_NAMES[type_], type_=type_)
    return code


async def make_staff(
    conn: asyncpg.Connection, *, facility_code: str, role: str = "pharmacist", login: str | None = None,
    password: str = STAFF_PASSWORD,
) -> dict[str, str]:
    """A staff member who can log in: {"staff_id", "login", "password", "role", "facility_code"}."""
    chosen = login or f"{role}-{next(_counter)}"
    created = await accounts.create_staff(conn, facility_code=facility_code, role=role, login=chosen,
                                          password=password)
    return {**created, "login": chosen, "password": password, "role": role, "facility_code": facility_code}


def days_ago(days: int) -> str:
    """A date `days` before today in Japan (the service's clock), as YYYY-MM-DD."""
    from datetime import timedelta

    from service.core.clock import clock

    return (clock.today_jst() - timedelta(days=days)).isoformat()


def recent_medications(insurer_number: str) -> list[dict[str, str]]:
    """Dispensed drugs of the default insured person: three within 3 years, one older (never shown)."""
    return [
        medication_row(insurer_number=insurer_number, dispensed_on=days_ago(14), drug_name="アムロジピン錠5mg",
                       quantity="1", unit="錠", days="28"),
        medication_row(insurer_number=insurer_number, dispensed_on=days_ago(120), drug_code="3962002F1030",
                       drug_name="メトホルミン塩酸塩錠250mg", quantity="2", unit="錠", days="28"),
        medication_row(insurer_number=insurer_number, dispensed_on=days_ago(400), drug_code="1149019F1560",
                       drug_name="ロキソプロフェンナトリウム錠60mg", quantity="3", unit="錠", days=""),
        medication_row(insurer_number=insurer_number, dispensed_on=days_ago(4 * 366), drug_name="四年前の錠10mg"),
    ]


def recent_checkups() -> list[dict[str, str]]:
    """Yearly checkups of the default insured person: three within 5 years, one older (never shown)."""
    return [
        checkup_row(examined_on=days_ago(60), hba1c="6.3", systolic_bp="138", diastolic_bp="88", ldl="142"),
        checkup_row(examined_on=days_ago(425), hba1c="6.0", systolic_bp="132", diastolic_bp="84"),
        checkup_row(examined_on=days_ago(790), hba1c="5.7", systolic_bp="126", diastolic_bp="80"),
        checkup_row(examined_on=days_ago(6 * 366), hba1c="5.1", systolic_bp="118", diastolic_bp="76"),
    ]


async def upload_records(
    client: httpx.AsyncClient, conn: asyncpg.Connection, *, insurer: dict[str, str],
    medications: Sequence[dict[str, str]], checkups: Sequence[dict[str, str]],
) -> None:
    """Medication records (from a claims processor) and checkup results (from the insurer), through the API."""
    if medications:
        claims = await make_claims_processor(conn)
        status = await post_batch_and_wait(client, url="/v1/claims/medication-batches", token=claims["token"],
                                           body=medication_csv(medications))
        assert status["rows_accepted"] == len(medications), status
    if checkups:
        status = await post_batch_and_wait(client, url=f"/v1/insurers/{insurer['insurer_number']}/checkup-batches",
                                           token=insurer["token"], body=checkup_csv(checkups))
        assert status["rows_accepted"] == len(checkups), status


async def give_consent(
    client: httpx.AsyncClient, terminal: dict[str, str], card: Any, *, categories: Sequence[str]
) -> dict[str, Any]:
    """The patient checks in with the card at the terminal and consents: the consent's JSON."""
    verification = await verify_card(client, terminal, card)
    assert verification.json()["viewing_allowed"] is True, verification.text
    consent = await client.post("/v1/consents", headers=bearer(terminal["token"]), json={
        "verification_id": verification.json()["verification_id"], "categories": list(categories)})
    assert consent.status_code == 201, consent.text
    body: dict[str, Any] = consent.json()
    return body


async def consented_patient(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, directory: Any, *,
    facility_type: str = "pharmacy", categories: Sequence[str] = ("medication", "checkup"),
    with_records: bool = True,
) -> dict[str, Any]:
    """山田太郎, linked, with records, checked in and consenting at a new facility of `facility_type`.

    Returns {"consent_id", "facility_code", "terminal", "card", "insurer"}.
    """
    insurer = await make_insurer(conn)
    card = await linked_card(client, conn, authority, directory, insurer=insurer)
    if with_records:
        await upload_records(client, conn, insurer=insurer, medications=recent_medications(insurer["insurer_number"]),
                             checkups=recent_checkups())
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_=facility_type))
    consent = await give_consent(client, terminal, card, categories=categories)
    return {"consent_id": consent["consent_id"], "facility_code": terminal["facility_code"], "terminal": terminal,
            "card": card, "insurer": insurer}
