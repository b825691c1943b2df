"""The direct lane (service.core.lane) answers the challenge and the verification exactly as FastAPI's routes do.

Each case is sent twice, to the app under test (lane on, the default) and to a second app on the same database and
Redis with `direct_lane=False`, and the answers are compared: status, error body, header names, and the body of a
success with its own ids set aside. A spy on the lane shows that it, not FastAPI, served the requests that should
take it. Also: a certificate with a recorded serial but other bytes is refused even though the recorded one would
skip the authority's signature check.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from service.app import create_app
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority, generate_card_key, load_certificate
from service.core.lane import DirectLane
from service.core.settings import Settings
from tests.factories import b64, bearer, card_proof, linked_card, make_card, make_insurer, make_terminal
from virtualcard import VirtualCard

IGNORED_HEADERS = {"x-request-id", "date"}


@pytest.fixture(scope="module")
async def without_lane(settings: Settings) -> AsyncIterator[FastAPI]:
    """The same service with the lane off: FastAPI serves every route (same database, Redis and authority)."""
    application = create_app(settings.model_copy(update={"direct_lane": False}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def plain(without_lane: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the lane-less app (after `client`, so that the database is clean first)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=without_lane), base_url="http://onshi.test") as http:
        yield http


class Spy:
    """Counts the requests the lane serves itself (its handlers' calls)."""

    def __init__(self, lane: DirectLane) -> None:
        self.served = 0
        for path, route in list(lane.routes.items()):
            lane.routes[path] = dataclasses.replace(route, handler=self._counting(route.handler))

    def _counting(self, handler: Any) -> Any:
        async def counted(request: Any, body: Any) -> Any:
            self.served += 1
            return await handler(request, body)

        return counted


@pytest.fixture
def spy(app: FastAPI, client: httpx.AsyncClient) -> Spy:
    """The lane of the app under test, spied on."""
    if app.middleware_stack is None:  # built on the first request, as Starlette would
        app.middleware_stack = app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, DirectLane):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, DirectLane), "the app under test has no direct lane"
    original = dict(layer.routes)
    watcher = Spy(layer)
    yield watcher  # type: ignore[misc]
    layer.routes.clear()
    layer.routes.update(original)


@pytest.fixture
def authority(app: FastAPI) -> CertificateAuthority:
    ca: CertificateAuthority = app.state.authority
    return ca


def _headers(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name not in IGNORED_HEADERS}


def same_answer(lane: httpx.Response, fastapi: httpx.Response, *, volatile: tuple[str, ...] = ()) -> None:
    """The two answers agree in status, header names and body (fields named in `volatile` only in presence)."""
    assert lane.status_code == fastapi.status_code, (lane.text, fastapi.text)
    assert _headers(lane) == _headers(fastapi)
    assert lane.headers["content-type"] == fastapi.headers["content-type"]
    left, right = lane.json(), fastapi.json()
    for name in volatile:
        assert (name in left, name in right) == (True, True), name
        left.pop(name), right.pop(name)
    assert left == right


async def _proof(client: httpx.AsyncClient, terminal: dict[str, str], card: Any) -> dict[str, Any]:
    return {**await card_proof(client, terminal, card, purpose="verify"), "presence": {"method": "pin"}}


async def test_a_check_answers_the_same_with_and_without_the_lane(
    client: httpx.AsyncClient, plain: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority,
    tmp_path: Path, spy: Spy,
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    headers = bearer(terminal["token"])
    lane_challenge = await client.post("/v1/challenges", json={"purpose": "verify"}, headers=headers)
    plain_challenge = await plain.post("/v1/challenges", json={"purpose": "verify"}, headers=headers)
    same_answer(lane_challenge, plain_challenge, volatile=("challenge_id", "nonce", "expires_at"))
    assert lane_challenge.status_code == 201
    answers = []
    for http in (client, plain):
        answers.append(await http.post("/v1/verifications", json=await _proof(http, terminal, card), headers=headers))
    same_answer(*answers, volatile=("verification_id",))
    assert answers[0].json()["result"] == "eligible"
    assert spy.served == 3  # the lane's challenge, the proof's challenge, the verification; the plain app's none
    stored = await conn.fetchval("SELECT count(*) FROM verifications WHERE serial = $1", card.serial)
    audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE entry::jsonb ->> 'action' = 'verification'")
    assert (stored, audited) == (2, 2)


async def test_errors_answer_the_same_with_and_without_the_lane(
    client: httpx.AsyncClient, plain: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority,
    tmp_path: Path, spy: Spy,
) -> None:
    card = await make_card(conn, authority, tmp_path)  # issued, not registered: still a valid proof
    terminal = await make_terminal(conn)
    insurer = await make_insurer(conn)
    terminal_auth, insurer_auth = bearer(terminal["token"]), bearer(insurer["token"])
    forger = CertificateAuthority.generate(name="Onshi Demo Authority")
    forged_certificate, forged_key = authority_service.issue_certificate(forger, birthdate=date(1980, 4, 1))
    forged = VirtualCard.create(tmp_path / "forged.json", certificate_der=forged_certificate.public_bytes(Encoding.DER),
                                private_key=forged_key, pin="1234")

    async def consumed(http: httpx.AsyncClient) -> dict[str, Any]:
        proof = await _proof(http, terminal, card)
        assert (await http.post("/v1/verifications", json=proof, headers=terminal_auth)).status_code == 200
        return proof

    async def with_signature_of_another_nonce(http: httpx.AsyncClient) -> dict[str, Any]:
        return {**await _proof(http, terminal, card), "signature": (await _proof(http, terminal, card))["signature"]}

    async def garbage_certificate(http: httpx.AsyncClient) -> dict[str, Any]:
        return {**await _proof(http, terminal, card), "certificate": base64.b64encode(b"garbage").decode()}

    async def face_without_liveness(http: httpx.AsyncClient) -> dict[str, Any]:
        return {**await _proof(http, terminal, card), "presence": {"method": "face", "face_distance": 0.3}}

    async def forged_card(http: httpx.AsyncClient) -> dict[str, Any]:
        return await _proof(http, terminal, forged)

    async def unknown_challenge(http: httpx.AsyncClient) -> dict[str, Any]:
        return {**await _proof(http, terminal, card), "challenge_id": "no-such-challenge"}

    json_cases = {"consumed challenge": consumed, "signature of another nonce": with_signature_of_another_nonce,
                  "garbage certificate": garbage_certificate, "face without liveness": face_without_liveness,
                  "forged card": forged_card, "unknown challenge": unknown_challenge}
    for name, make in json_cases.items():
        answers = []
        for http in (client, plain):
            proof = await make(http)
            answers.append(await http.post("/v1/verifications", json=proof, headers=terminal_auth))
        same_answer(*answers)
        assert answers[0].status_code >= 400, name
    served_by_lane = spy.served

    raw_cases: dict[str, tuple[str, bytes, dict[str, str]]] = {
        "no token": ("/v1/verifications", b'{"challenge_id": "x"}', {}),
        "insurer token, verification": ("/v1/verifications", b"{}", insurer_auth),
        "insurer token, challenge": ("/v1/challenges", b'{"purpose": "verify"}', insurer_auth),
        "missing fields": ("/v1/verifications", b'{"challenge_id": "x"}', terminal_auth),
        "malformed JSON": ("/v1/verifications", b'{"challenge_id": ', terminal_auth),
        "unknown purpose": ("/v1/challenges", b'{"purpose": "shopping"}', terminal_auth),
        "a list, not an object": ("/v1/challenges", b'["verify"]', terminal_auth),
        "NaN distance": ("/v1/verifications", b'{"challenge_id": "x", "certificate": "AA==", "signature": "AA==", '
                         b'"presence": {"method": "face", "face_distance": NaN, "liveness_passed": true}}',
                         terminal_auth),
        "NUL in the body": ("/v1/challenges", b'{"purpose": "verify\\u0000"}', terminal_auth),
    }
    for name, (path, body, auth) in raw_cases.items():
        answers = [await http.post(path, content=body, headers={**auth, "content-type": "application/json"})
                   for http in (client, plain)]
        same_answer(*answers)
        assert answers[0].status_code in (401, 403, 422), name
    text = [await http.post("/v1/challenges", content=b'{"purpose": "verify"}',
                            headers={**terminal_auth, "content-type": "text/plain"}) for http in (client, plain)]
    same_answer(*text)
    # A body that does not validate goes to FastAPI's route; so does another content type. The lane answered the
    # errors its handler raised (token, kind, challenge, certificate, signature, presence) itself.
    assert spy.served == served_by_lane + 1  # the valid challenge body with an insurer's token


async def test_a_recorded_serial_with_other_bytes_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path, spy: Spy,
) -> None:
    card = await linked_card(client, conn, authority, tmp_path)
    terminal = await make_terminal(conn)
    genuine = load_certificate(card.certificate_der)
    forger = CertificateAuthority.generate(name="Onshi Demo Authority")
    key = generate_card_key()
    copy = (x509.CertificateBuilder().subject_name(genuine.subject).issuer_name(genuine.issuer)
            .serial_number(genuine.serial_number).not_valid_before(genuine.not_valid_before_utc)
            .not_valid_after(genuine.not_valid_after_utc).public_key(key.public_key()))
    for extension in genuine.extensions:
        copy = copy.add_extension(extension.value, critical=extension.critical)
    certificate = copy.sign(forger._private_key, hashes.SHA256())  # the forger signs with its own key
    assert certificate.serial_number == genuine.serial_number
    impostor = VirtualCard.create(tmp_path / "impostor.json", certificate_der=certificate.public_bytes(Encoding.DER),
                                  private_key=key, pin="1234")
    proof = await _proof(client, terminal, impostor)
    response = await client.post("/v1/verifications", json=proof, headers=bearer(terminal["token"]))
    assert (response.status_code, response.json()["error"]) == (422, "untrusted_certificate")
    assert spy.served == 2
    assert await conn.fetchval("SELECT count(*) FROM verifications") == 0
    genuine_proof = {**await _proof(client, terminal, card)}
    assert (await client.post("/v1/verifications", json=genuine_proof, headers=bearer(terminal["token"]))).json()[
        "result"] == "eligible"
    assert b64(card.certificate_der) == genuine_proof["certificate"]

