"""The reception terminal against a mocked service (the real-service tests come with the endpoints)."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from facematch import (
    Action,
    CardFace,
    Challenge,
    FaceMatcher,
    Image,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    Prompt,
    QualityReport,
    Reason,
    Refusal,
)
from service.authority.ca import CertificateAuthority, generate_card_key
from service.core.clock import JST
from terminals.reception import (
    CLEAR_SCREEN,
    Console,
    Coverage,
    Desk,
    Options,
    Presence,
    ReceptionClient,
    Retry,
    ServiceUnavailable,
    VisitResult,
    copay_text,
    main,
    period_text,
    render_result,
)
from virtualcard import CardLocked, VirtualCard, WrongPin

PIN = "4271"
TOKEN = "terminal-token"
PATIENT_A = {"name_kanji": "山田 太郎", "name_kana": "ヤマダ タロウ", "birthdate": "1980-05-06", "sex": 1}
PATIENT_B = {"name_kanji": "鈴木 花子", "name_kana": "スズキ ハナコ", "birthdate": "1992-11-23", "sex": 2}
PAPER = "資格確認書または保険証"


# --- cards -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [generate_card_key() for _ in range(2)]


@pytest.fixture
def make_card(
    tmp_path: Path, authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> Callable[..., VirtualCard]:
    def make(name: str = "card.json", *, key: int = 0, face_failures: int = 0) -> VirtualCard:
        certificate = authority.issue_user_certificate(
            public_key=keys[key].public_key(), birthdate=date(1980, 5, 6), issued_at=datetime.now(JST)
        )
        card = VirtualCard.create(
            tmp_path / name,
            certificate_der=certificate.public_bytes(Encoding.DER),
            private_key=keys[key],
            pin=PIN,
            face_image=b"card photo",
            face_format="jpeg",
        )
        for _ in range(face_failures):
            card.record_face_result(matched=False)
        return card

    return make


# --- the mocked service ----------------------------------------------------------------------------------


def coverage(patient: dict[str, Any] = PATIENT_A, **overrides: Any) -> dict[str, Any]:
    return {
        "insurer_number": "33120015", "symbol": "123", "number": "4567", "branch": "01", "holder_kind": 1,
        **patient, "qualified_on": "2024-04-01", "disqualified_on": "2025-04-01", "copay_ratio": 30,
        "limit_category": "ウ",
    } | overrides  # fmt: skip


def answer(
    result: str = "eligible",
    *,
    validity_code: int | None = 1,
    patient: dict[str, Any] | None = PATIENT_A,
    viewing_allowed: bool | None = None,
    status: str = "valid",
) -> dict[str, Any]:
    """A verification answer (the service fills in the verification id and the card's serial)."""
    return {
        "result": result,
        "validity_code": validity_code,
        "coverage": coverage(patient) if patient else None,
        "certificate": {"not_after": "2029-05-06T14:59:59+00:00", "status": status},
        "viewing_allowed": result == "eligible" if viewing_allowed is None else viewing_allowed,
    }


Fault = int | type[httpx.TransportError] | tuple[int, dict[str, str]] | tuple[int, dict[str, str], str, str]


@dataclass
class FakeService:
    """The terminal endpoints of API.md, checking every card signature against the nonce it issued."""

    answers: list[dict[str, Any]] = field(default_factory=lambda: [answer()])
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    registration: str = "linked"
    challenges: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    signed: list[bytes] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    serial_override: str | None = None

    def fail(self, path: str, *faults: Fault) -> None:
        self.faults.setdefault(path, deque()).extend(faults)

    def posts(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.requests if p == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        path, body = request.url.path, json.loads(request.content)
        self.requests.append((path, body))
        if self.faults.get(path):
            fault = self.faults[path].popleft()
            if isinstance(fault, type):
                raise fault("simulated", request=request)
            status, headers, *said = fault if isinstance(fault, tuple) else (fault, {})
            error, detail = said if said else (f"e{status}", "simulated")
            return httpx.Response(status, json={"error": error, "detail": detail}, headers=headers)
        if path == "/v1/challenges":
            return self._challenge(body)
        if path == "/v1/consents":
            return self._consent(body)
        purpose = {
            "/v1/verifications": "verify",
            "/v1/registrations": "register",
            "/v1/registrations/unlink": "unregister",
            "/v1/me/access-log": "access_log",
        }[path]
        serial = self._check_proof(body, purpose)
        if isinstance(serial, httpx.Response):
            return serial
        return self._answer(path, serial)

    def _challenge(self, body: dict[str, Any]) -> httpx.Response:
        challenge_id, nonce = str(uuid.uuid4()), uuid.uuid4().bytes + uuid.uuid4().bytes
        self.challenges[challenge_id] = {"nonce": nonce, "purpose": body["purpose"], "used": False}
        encoded = base64.b64encode(nonce).decode()
        return httpx.Response(201, json={"challenge_id": challenge_id, "nonce": encoded, "expires_at": "x"})

    def _check_proof(self, body: dict[str, Any], purpose: str) -> str | httpx.Response:
        challenge = self.challenges.get(body["challenge_id"])
        if challenge is None or challenge["used"] or challenge["purpose"] != purpose:
            return httpx.Response(409, json={"error": "challenge_not_usable", "detail": "reused"})
        challenge["used"] = True
        certificate = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
        public_key = certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        try:
            public_key.verify(
                base64.b64decode(body["signature"]), challenge["nonce"], padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return httpx.Response(422, json={"error": "bad_signature", "detail": "署名を確認できません"})
        self.signed.append(challenge["nonce"])
        return str(certificate.serial_number)

    def _answer(self, path: str, serial: str) -> httpx.Response:
        if path == "/v1/registrations":
            return httpx.Response(200, json={"status": self.registration, "coverage": coverage()})
        if path == "/v1/registrations/unlink":
            return httpx.Response(200, json={"status": "unlinked"})
        if path == "/v1/me/access-log":
            entry = {"at": "2025-03-01T01:30:00+00:00", "facility_code": "1312345", "facility_name": "さくら薬局",
                     "role": "pharmacist", "category": "medication"}  # fmt: skip
            return httpx.Response(200, json={"entries": [entry]})
        verification_id = f"v-{len(self.verifications) + 1}"
        self.verifications.append(verification_id)
        template = self.answers[min(len(self.verifications), len(self.answers)) - 1]
        body = template | {"verification_id": verification_id}
        body["certificate"] = template["certificate"] | {"serial": self.serial_override or serial}
        return httpx.Response(200, json=body)

    def _consent(self, body: dict[str, Any]) -> httpx.Response:
        if body["verification_id"] not in self.verifications:
            return httpx.Response(409, json={"error": "verification_unknown", "detail": "unknown"})
        self.consents.append(body)
        return httpx.Response(
            201,
            json={"consent_id": "c-1", "categories": body["categories"], "expires_at": "2025-03-01T01:00:00+00:00"},
        )


class Keys:
    """A scripted keypad: the answers in order, then end of input (a forgotten answer fails, never hangs)."""

    def __init__(self, *answers: str) -> None:
        self.answers = deque(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.popleft()


@dataclass
class Run:
    code: int
    screen: str
    sleeps: list[float]
    keys: Keys
    secret: Keys


def run(
    service: FakeService,
    *args: str,
    keys: Sequence[str] = (),
    pins: Sequence[str] = (),
    matcher: ScriptedMatcher | None = None,
) -> Run:
    lines: list[str] = []
    sleeps: list[float] = []
    keypad, secret = Keys(*keys), Keys(*pins)
    code = main(
        ["--token", TOKEN, "--url", "http://onshi.test", *args],
        transport=httpx.MockTransport(service),
        input=keypad,
        getpass=secret,
        output=lines.append,
        sleep=sleeps.append,
        matcher=matcher,
        open_source=lambda spec: NoCamera(),
    )
    return Run(code, "\n".join(lines), sleeps, keypad, secret)


class NoCamera:
    """A frame source that never gives a frame (the scripted sessions need none)."""

    live = False
    fps = 10.0

    def start(self, challenge: Challenge) -> None:
        pass

    def frame(self, at: float) -> Image | None:
        return None

    def close(self) -> None:
        pass


class ScriptedSession:
    """An attempt that is over at once and answers a scripted decision."""

    def __init__(self, decision: MatchDecision) -> None:
        self.challenge = Challenge((Prompt(Action.TURN_LEFT, 0.0, 1.0),), "scripted")
        self.decision = decision

    def done(self, at: float) -> bool:
        return True

    def finish(self) -> MatchDecision:
        return self.decision


class ScriptedMatcher:
    """A face matcher that answers the outcomes it is given (facematch's own tests cover the matching)."""

    def __init__(self, *outcomes: str) -> None:
        self.outcomes = deque(outcomes)
        self.calls = 0
        self.enrolled = 0

    def enrol(self, card_photo: bytes) -> CardFace:
        self.enrolled += 1
        return CardFace(QualityReport(()), np.ones(128))

    def card_unusable(self, card: CardFace) -> MatchDecision:
        raise AssertionError("the scripted card is usable")

    def start(self, card: CardFace, challenge: Challenge | None = None) -> ScriptedSession:
        self.calls += 1
        outcome = self.outcomes.popleft()
        refusals = () if outcome == "match" else (Refusal(Reason.DIFFERENT_PERSON, "0.800"),)
        return ScriptedSession(MatchDecision(
            outcome="match" if outcome == "match" else "no_match",
            distance=0.3123456 if outcome == "match" else 0.8,
            threshold=0.45,
            card_quality=QualityReport(()),
            camera_quality=QualityReport(()),
            liveness=LivenessResult((LivenessCheck("blink", True, 0.4),)),
            refusals=refusals,
        ))  # fmt: skip


# --- the check and its screen ----------------------------------------------------------------------------


def test_the_card_signs_the_nonce_the_server_sent(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    service = FakeService()
    result = run(service, "--card", str(card.path), "--presence", "pin", "--pin", PIN, "--consent", "none")
    assert result.code == 0
    [challenge] = service.posts("/v1/challenges")
    [verification] = service.posts("/v1/verifications")
    assert challenge == {"purpose": "verify"}
    issued = service.challenges[verification["challenge_id"]]["nonce"]
    assert service.signed == [issued]  # the signature checked out against the nonce of that challenge
    assert base64.b64decode(verification["certificate"]) == card.certificate_der
    assert verification["presence"] == {"method": "pin"}
    assert PIN not in json.dumps(service.requests)


def test_eligible_screen_shows_what_reception_needs(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    result = run(FakeService(), "--card", str(card.path), "--presence", "pin", "--pin", PIN, "--consent", "none")
    for expected in (
        "有効: 資格を確認できました", "山田 太郎", "ヤマダ タロウ", "1980-05-06", "33120015", "123・4567・01",
        "本人", "3割 (30%)", "2024-04-01 ～ 2025-03-31 (資格喪失日 2025-04-01)", "ウ", "2029-05-06",
    ):  # fmt: skip
        assert expected in result.screen
    assert PAPER not in result.screen


def test_as_of_is_sent(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    card = make_card()
    run(service, "--card", str(card.path), "--presence", "visual", "--as-of", "2025-01-15", keys=["y"])
    [verification] = service.posts("/v1/verifications")
    assert verification["as_of"] == "2025-01-15" and verification["presence"] == {"method": "visual"}


def _result(body: dict[str, Any]) -> VisitResult:
    full = body | {"verification_id": "v-9"}
    full["certificate"] = body["certificate"] | {"serial": "42"}
    return VisitResult.from_answer(full, serial="42")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (1, ["有効: 資格を確認できました", "1 有効"]),
        (2, ["この保険資格は無効です", "2 無効", "保険者に確認", PAPER]),
        (3, ["新しい保険資格があります", "新しい保険証情報が登録されているか", "保険者に確認", PAPER]),
        (4, ["該当資格なし", "保険者に確認", PAPER]),
        (5, ["複数の資格が該当", "保険者に確認してください", PAPER]),
    ],
)
def test_each_validity_code_has_its_words(code: int, words: list[str]) -> None:
    screen = render_result(_result(answer("eligible" if code == 1 else "not_eligible", validity_code=code)))
    for word in words:
        assert word in screen
    assert (PAPER in screen) is (code != 1)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (answer("not_registered", validity_code=None, patient=None), ["利用登録が必要", "--register", PAPER]),
        (answer("certificate_revoked", validity_code=None, patient=None), ["失効", "再発行", PAPER]),
        (answer("certificate_suspended", validity_code=None, patient=None), ["一時停止中", "コールセンター", PAPER]),
        (answer("certificate_expired", validity_code=None, patient=None), ["有効期限が切れています", "更新", PAPER]),
        (
            answer("eligible", viewing_allowed=False, status="expired_grace"),
            ["猶予期間", "薬剤情報・特定健診情報の提供はできません", "山田 太郎"],
        ),
    ],
)
def test_each_negative_result_says_what_to_do(body: dict[str, Any], words: list[str]) -> None:
    screen = render_result(_result(body))
    for word in words:
        assert word in screen


def test_english_screen_has_no_japanese_sentences() -> None:
    screen = render_result(_result(answer("not_eligible", validity_code=3)), "en")
    assert "Not eligible: a newer qualification exists" in screen
    assert "new insurer" in screen and "新しい" not in screen and "30%" in screen and "割" not in screen


def test_an_answer_about_another_card_is_never_shown(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService(serial_override="1234567")
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert result.code == 2
    assert "山田" not in result.screen and PAPER in result.screen


def test_a_service_error_is_shown_with_its_code_and_the_paper_fallback(
    make_card: Callable[..., VirtualCard],
) -> None:
    service = FakeService()
    service.fail("/v1/verifications", 422)
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert result.code == 2
    assert "HTTP 422 e422: simulated" in result.screen and "署名または電子証明書" in result.screen
    assert PAPER in result.screen


# --- PIN -------------------------------------------------------------------------------------------------


def test_wrong_pin_shows_the_tries_left_then_the_right_pin_works(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    service = FakeService()
    result = run(
        service, "--card", str(card.path), "--presence", "pin", "--pin", "0000", "--consent", "none",
        keys=["1"], pins=[PIN],
    )  # fmt: skip
    assert "あと2回間違えるとカードがロックされます" in result.screen
    assert result.code == 0 and "山田 太郎" in result.screen
    assert card.pin_failures == 0 and len(service.posts("/v1/verifications")) == 1


def test_a_malformed_pin_never_reaches_the_card(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    result = run(FakeService(), "--card", str(card.path), "--presence", "pin", "--consent", "none", pins=["12345", PIN])
    assert "4桁の数字" in result.screen and result.code == 0
    assert card.pin_failures == 0


def test_wrong_pin_can_switch_to_a_visual_check(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    service = FakeService()
    result = run(
        service, "--card", str(card.path), "--presence", "pin", "--consent", "none",
        keys=["2", "y"], pins=["1111"],
    )  # fmt: skip
    assert result.code == 0
    assert service.posts("/v1/verifications")[0]["presence"] == {"method": "visual"}
    assert card.pin_failures == 1  # a visual check resets no counter


def test_locked_card_says_so_and_ends_with_the_paper_fallback(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    service = FakeService()
    result = run(
        service, "--card", str(card.path), "--presence", "pin",
        keys=["1", "1", "y", "y"], pins=["1111", "2222", "3333"],
    )  # fmt: skip
    assert "あと2回" in result.screen and "あと1回" in result.screen
    assert "カードがロックされました" in result.screen and "市区町村の窓口" in result.screen
    assert any("目視確認に切り替えますか" in prompt for prompt in result.keys.prompts)
    # The PIN lock stops PIN entry only: the staff's visual check still lets the card sign.
    assert card.pin_locked
    assert [p["presence"]["method"] for p in service.posts("/v1/verifications")] == ["visual"]
    assert result.code == 0 and PAPER not in result.screen


def test_a_card_locked_before_the_visit_is_announced(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    for wrong in ("1111", "2222", "3333"):
        with pytest.raises((WrongPin, CardLocked)):
            card.sign(b"x", pin=wrong)
    service = FakeService()
    result = run(service, "--card", str(card.path), "--presence", "pin", keys=["2", "y"])
    assert "暗証番号がロックされています" in result.screen
    assert result.secret.prompts == []  # never asked for a PIN it could not check
    assert [p["presence"]["method"] for p in service.posts("/v1/verifications")] == ["visual"]


# --- face ------------------------------------------------------------------------------------------------


def test_face_match_sends_distance_and_liveness_only(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card(face_failures=3)
    service = FakeService()
    result = run(service, "--card", str(card.path), "--presence", "face", "--consent", "none",
                 matcher=ScriptedMatcher("match"))  # fmt: skip
    assert result.code == 0 and "顔認証できました" in result.screen
    presence = service.posts("/v1/verifications")[0]["presence"]
    assert presence == {"method": "face", "face_distance": 0.3123, "liveness_passed": True}
    assert card.face_failures == 0


def test_a_failed_face_match_is_counted_on_the_card(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    matcher = ScriptedMatcher("no_match")
    result = run(FakeService(), "--card", str(card.path), "--presence", "face", "--consent", "none",
                 keys=["n", "2", "y"], matcher=matcher)  # fmt: skip
    assert "顔認証できませんでした" in result.screen and "切り替えます" in result.screen
    assert result.code == 0 and card.face_failures == 1 and matcher.enrolled == 1


def test_tenth_face_failure_locks_and_falls_back_to_pin(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card(face_failures=9)
    service = FakeService()
    result = run(service, "--card", str(card.path), "--presence", "face", "--consent", "none",
                 keys=["1"], pins=[PIN], matcher=ScriptedMatcher("no_match"))  # fmt: skip
    assert card.face_locked
    assert "顔認証はロックされています" in result.screen
    assert "暗証番号または職員の目視確認に切り替えます" in result.screen
    assert result.code == 0 and service.posts("/v1/verifications")[0]["presence"] == {"method": "pin"}


def test_a_face_locked_card_never_reaches_the_camera(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card(face_failures=10)
    matcher = ScriptedMatcher()
    result = run(FakeService(), "--card", str(card.path), "--presence", "face", "--consent", "none",
                 keys=["2", "y"], matcher=matcher)  # fmt: skip
    assert matcher.calls == 0 and "顔認証はロックされています" in result.screen and result.code == 0


# --- consent ---------------------------------------------------------------------------------------------


def test_consent_is_asked_per_category_and_bound_to_the_verification(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y", "y", "n"])
    assert service.consents == [{"verification_id": service.verifications[0], "categories": ["medication"]}]
    assert any("薬剤情報" in prompt for prompt in result.keys.prompts)
    assert any("特定健診" in prompt for prompt in result.keys.prompts)
    assert "同意の有効期限: 2025-03-01 10:00" in result.screen  # shown in Japan time


def test_a_refusal_is_recorded_as_an_empty_list(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--presence", "visual", "--consent", "none", keys=["y"])
    assert service.consents[0]["categories"] == [] and "同意しませんでした" in result.screen


@pytest.mark.parametrize(
    "body",
    [
        answer("eligible", viewing_allowed=False, status="expired_grace"),
        answer("not_eligible", validity_code=2),
        answer("certificate_suspended", validity_code=None, patient=None),
    ],
)
def test_no_consent_without_viewing_allowed(make_card: Callable[..., VirtualCard], body: dict[str, Any]) -> None:
    service = FakeService(answers=[body])
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert service.posts("/v1/consents") == []
    assert not any("同意しますか" in prompt for prompt in result.keys.prompts)


# --- network errors and retries --------------------------------------------------------------------------


def test_connect_errors_back_off_with_a_fresh_challenge_each_time(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/verifications", httpx.ConnectError, httpx.ReadTimeout)
    result = run(service, "--card", str(make_card().path), "--presence", "visual", "--consent", "none", keys=["y"])
    assert result.code == 0
    assert result.sleeps == [0.5, 1.0]
    assert "通信エラー: 再試行中 (1/3)" in result.screen and "通信エラー: 再試行中 (2/3)" in result.screen
    ids = [body["challenge_id"] for body in service.posts("/v1/verifications")]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert len({service.challenges[i]["nonce"] for i in ids}) == 3
    assert service.signed == [service.challenges[ids[-1]]["nonce"]]


def test_retry_after_is_honoured(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/challenges", (503, {"Retry-After": "3"}))
    result = run(service, "--card", str(make_card().path), "--presence", "visual", "--consent", "none", keys=["y"])
    assert result.code == 0 and result.sleeps == [3.0]


def test_a_long_retry_after_goes_to_paper_rather_than_keep_the_patient_waiting(
    make_card: Callable[..., VirtualCard],
) -> None:
    service = FakeService()
    service.fail("/v1/verifications", (429, {"Retry-After": "120"}))
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert result.code == 2 and result.sleeps == [] and PAPER in result.screen


def test_exhausted_retries_end_with_the_paper_fallback(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/verifications", *[httpx.ConnectError] * 4)
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert result.code == 2 and result.sleeps == [0.5, 1.0, 2.0]
    assert "資格確認できませんでした" in result.screen and "4回試行" in result.screen and PAPER in result.screen
    assert "山田" not in result.screen


EXPIRED: Fault = (409, {}, "challenge_expired", "the challenge expired: request a new one")


def test_an_expired_challenge_gets_one_new_challenge_and_signature(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/verifications", EXPIRED)
    result = run(service, "--card", str(make_card().path), "--presence", "visual", "--consent", "none", keys=["y"])
    ids = [body["challenge_id"] for body in service.posts("/v1/verifications")]
    assert result.code == 0 and result.sleeps == [] and len(set(ids)) == 2


def test_a_second_conflict_is_shown_not_retried_forever(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/verifications", EXPIRED, EXPIRED)
    result = run(service, "--card", str(make_card().path), "--presence", "visual", keys=["y"])
    assert result.code == 2 and len(service.posts("/v1/verifications")) == 2
    assert "HTTP 409" in result.screen and PAPER in result.screen


def test_client_raises_unavailable_after_the_attempts(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    service.fail("/v1/challenges", 502, 503, 500)
    notices: list[tuple[int, int, str]] = []
    with httpx.Client(base_url="http://onshi.test", transport=httpx.MockTransport(service),
                      headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
        client = ReceptionClient(
            http, retry=Retry(attempts=3, sleep=lambda s: None), on_retry=lambda *n: notices.append(n)
        )
        with pytest.raises(ServiceUnavailable) as caught:
            client.verify(make_card(), Presence("visual"))
    assert caught.value.attempts == 3 and notices == [(1, 2, "HTTP 502"), (2, 2, "HTTP 503")]
    assert service.posts("/v1/verifications") == []


# --- one patient after another ---------------------------------------------------------------------------


def test_the_next_patient_sees_nothing_of_the_previous_one(make_card: Callable[..., VirtualCard]) -> None:
    first, second = make_card("a.json", key=0), make_card("b.json", key=1)
    service = FakeService(answers=[answer(patient=PATIENT_A), answer(patient=PATIENT_B)])
    result = run(
        service, "--loop", "--card", str(first.path), "--presence", "visual",
        keys=["y", "n", "n", "", str(second.path), "y", "n", "n", ""],
    )  # fmt: skip
    assert result.code == 0
    screens = result.screen.split(CLEAR_SCREEN)
    assert len(screens) == 3  # cleared after each patient
    assert "山田 太郎" in screens[0] and "鈴木 花子" in screens[1]
    assert "山田" not in screens[1] and "ヤマダ" not in screens[1] and "1980-05-06" not in screens[1]
    assert "鈴木" not in screens[2] and "山田" not in screens[2]


def test_a_failed_check_never_shows_the_previous_result(make_card: Callable[..., VirtualCard]) -> None:
    first, second = make_card("a.json", key=0), make_card("b.json", key=1)
    service = FakeService()
    lines: list[str] = []
    console = Console("ja", ask=Keys("y", "n", "n", "y"), show=lines.append)
    with httpx.Client(base_url="http://onshi.test", transport=httpx.MockTransport(service),
                      headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
        client = ReceptionClient(http, retry=Retry(attempts=2, sleep=lambda s: None))
        desk = Desk(client, console, options=Options(presence="visual"))
        assert desk.visit(first.path) == 0
        shown = len(lines)
        service.fail("/v1/verifications", httpx.ConnectError, httpx.ConnectError)
        assert desk.visit(second.path) == 2
    second_screen = "\n".join(lines[shown:])
    assert "山田" not in second_screen and PAPER in second_screen
    assert set(vars(desk)) == {"client", "console", "camera", "options"}  # the desk keeps no patient state


def test_two_rendered_results_share_nothing() -> None:
    first = render_result(_result(answer(patient=PATIENT_A)))
    second = render_result(_result(answer(patient=PATIENT_B)))
    assert "山田 太郎" in first and "山田" not in second and "鈴木 花子" in second


# --- registration, unlink, access log --------------------------------------------------------------------


def test_register_signs_a_register_challenge(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--register", "--presence", "pin", "--pin", PIN)
    assert result.code == 0 and "利用登録が完了しました" in result.screen
    assert service.posts("/v1/challenges") == [{"purpose": "register"}] and len(service.signed) == 1


def test_register_refuses_a_visual_check(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--register", "--presence", "visual",
                 keys=["2"], pins=[PIN])  # fmt: skip
    assert "目視確認は使えません" in result.screen
    assert result.code == 0 and len(service.posts("/v1/registrations")) == 1


def test_not_registered_offers_registration(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService(answers=[answer("not_registered", validity_code=None, patient=None)])
    result = run(service, "--card", str(make_card().path), "--presence", "pin", "--pin", PIN, keys=["y"])
    assert "利用登録が必要" in result.screen and "利用登録が完了しました" in result.screen
    assert [body["purpose"] for body in service.posts("/v1/challenges")] == ["verify", "register"]
    assert result.code == 1  # the check itself was negative


def test_registration_after_a_corrected_pin_uses_the_right_pin(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    service = FakeService(answers=[answer("not_registered", validity_code=None, patient=None)])
    result = run(service, "--card", str(card.path), "--presence", "pin", keys=["1", "y"], pins=["1111", PIN])
    assert "利用登録が完了しました" in result.screen and card.pin_failures == 0
    assert len(result.secret.prompts) == 2  # no third PIN entry for the registration


def test_unlink_after_confirmation(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--unlink", "--presence", "pin", "--pin", PIN, keys=["y"])
    assert result.code == 0 and "利用登録を解除しました" in result.screen
    assert service.posts("/v1/challenges") == [{"purpose": "unregister"}]


def test_unlink_declined_sends_nothing(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--unlink", "--presence", "pin", "--pin", PIN, keys=["n"])
    assert result.code == 2 and service.requests == []


def test_a_suspended_card_refused_the_access_log_is_told_it_is_suspended(
    make_card: Callable[..., VirtualCard],
) -> None:
    service = FakeService()
    service.fail("/v1/me/access-log", (409, {}, "certificate_not_usable",
                                       "cannot read the access log with a certificate that is suspended"))
    result = run(service, "--card", str(make_card().path), "--access-log", "--presence", "pin", "--pin", PIN)
    assert result.code == 2
    assert len(service.posts("/v1/me/access-log")) == 1  # not retried with a new challenge: it would not help
    assert "電子証明書が一時停止中です" in result.screen and "コールセンター" in result.screen
    assert "確認の有効期限が切れた" not in result.screen


def test_access_log_shows_who_viewed(make_card: Callable[..., VirtualCard]) -> None:
    service = FakeService()
    result = run(service, "--card", str(make_card().path), "--access-log", "--presence", "pin", "--pin", PIN)
    assert result.code == 0
    assert "2025-03-01 10:30" in result.screen and "さくら薬局" in result.screen and "薬剤師" in result.screen


# --- the command line ------------------------------------------------------------------------------------


def test_an_unreadable_card_is_said_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("not a card")
    service = FakeService()
    result = run(service, "--card", str(bad), "--presence", "visual")
    assert result.code == 2 and "カードを読み取れません" in result.screen and service.requests == []


def test_no_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONSHI_TERMINAL_TOKEN", raising=False)
    lines: list[str] = []
    assert main(["--card", "x.json", "--lang", "en"], output=lines.append) == 2
    assert lines == ["No terminal credential: pass --token or set ONSHI_TERMINAL_TOKEN"]


def test_loop_refuses_a_preset_pin_or_consent() -> None:
    with pytest.raises(SystemExit):
        main(["--token", TOKEN, "--loop", "--pin", PIN])
    with pytest.raises(SystemExit):
        main(["--token", TOKEN, "--loop", "--consent", "medication"])


def test_copay_and_period_texts() -> None:
    assert copay_text(30) == "3割 (30%)" and copay_text(10, "en") == "10%" and copay_text(2) == "2割 (20%)"
    assert period_text("2024-04-01", None) == "2024-04-01 ～"
    assert period_text("2024-04-01", "2024-05-01", "en") == "2024-04-01 to 2024-04-30 (disqualified on 2024-05-01)"


def test_coverage_accepts_the_service_types() -> None:
    parsed = Coverage.from_answer(coverage(holder_kind=2, copay_ratio="20", limit_category=None))
    assert parsed.holder_kind == "2" and parsed.copay_ratio == 20 and parsed.limit_category is None


# --- the real face matcher: a simulated patient, a recorded video and a still image as the camera ---------

FACE_DATA = Path(__file__).parents[1] / "facematch" / "data"


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A recorded live answer to one challenge (MJPG video), and the same person's chip photo."""
    from facematch.testing import write_live_demo

    return write_live_demo(tmp_path_factory.mktemp("camera"))


def _card_with_photo(path: Path, authority: CertificateAuthority, key: rsa.RSAPrivateKey, photo: bytes) -> VirtualCard:
    certificate = authority.issue_user_certificate(
        public_key=key.public_key(), birthdate=date(1980, 5, 6), issued_at=datetime.now(JST)
    )
    der = certificate.public_bytes(Encoding.DER)
    return VirtualCard.create(path, certificate_der=der, private_key=key, pin=PIN, face_image=photo, face_format="jp2")


class SeededMatcher(FaceMatcher):
    """The real matcher with challenges from a fixed seed, so that these tests do not depend on chance."""

    def draw(self, rng: random.Random | None = None) -> Challenge:
        return super().draw(random.Random(7))


def _run_with_camera(service: FakeService, card: Path, camera: str, keys: Sequence[str]) -> Run:
    lines: list[str] = []
    code = main(
        ["--token", TOKEN, "--url", "http://onshi.test", "--card", str(card), "--presence", "face",
         "--camera", camera, "--consent", "none"],
        transport=httpx.MockTransport(service), input=Keys(*keys), output=lines.append, sleep=lambda s: None,
        matcher=SeededMatcher(),
    )  # fmt: skip
    return Run(code, "\n".join(lines), [], Keys(), Keys())


@pytest.mark.face
def test_real_face_match_with_a_patient_following_the_prompts(
    tmp_path: Path, authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey], astronaut_video: tuple[Path, bytes]
) -> None:
    card = _card_with_photo(tmp_path / "card.json", authority, keys[0], astronaut_video[1])
    service = FakeService()
    result = _run_with_camera(service, card.path, "simulate:astronaut", keys=[])
    assert result.code == 0 and "顔認証できました" in result.screen
    assert "正面を向いてください" in result.screen and "まばたきをしてください" in result.screen  # the prompts
    presence = service.posts("/v1/verifications")[0]["presence"]
    assert presence["method"] == "face" and presence["liveness_passed"] is True
    assert presence["face_distance"] < 0.45 and set(presence) == {"method", "face_distance", "liveness_passed"}


@pytest.mark.face
def test_a_recorded_answer_replayed_as_the_camera_fails_and_counts(
    tmp_path: Path, authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey], astronaut_video: tuple[Path, bytes]
) -> None:
    video, photo = astronaut_video
    card = _card_with_photo(tmp_path / "card.json", authority, keys[0], photo)
    service = FakeService()
    result = _run_with_camera(service, card.path, str(video), keys=["n", "2", "y"])
    assert "画面の指示どおりの動きが確認できませんでした" in result.screen and card.face_failures == 1
    assert result.code == 0 and service.posts("/v1/verifications")[0]["presence"] == {"method": "visual"}


@pytest.mark.face
def test_a_still_photo_as_the_camera_fails_and_counts(
    tmp_path: Path, authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey], astronaut_video: tuple[Path, bytes]
) -> None:
    card = _card_with_photo(tmp_path / "card.json", authority, keys[0], astronaut_video[1])
    service = FakeService()
    result = _run_with_camera(service, card.path, str(FACE_DATA / "obama.jpg"), keys=["n", "2", "y"])
    assert "本人確認ができませんでした" in result.screen and card.face_failures == 1
    assert result.code == 0 and service.posts("/v1/verifications")[0]["presence"] == {"method": "visual"}


def test_an_unreachable_service_names_the_address_tried(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    shown: list[str] = []
    code = main(["--token", TOKEN, "--url", "http://127.0.0.1:8123", "--card", str(card.path), "--retries", "1",
                 "--presence", "visual", "--consent", "none"],
                transport=httpx.MockTransport(refused), output=shown.append, sleep=lambda _: None,
                input=lambda _: "y")
    screen = "\n".join(shown)
    assert code == 2 and "ConnectError (http://127.0.0.1:8123)" in screen, screen
