"""Clinic reception terminal (顔認証付きカードリーダー): card, presence check, eligibility, consent.

    python -m terminals.reception --card card.json --presence pin            # one patient
    python -m terminals.reception --loop                                     # one patient after another
    python -m terminals.reception --card card.json --register                # 利用登録
    python -m terminals.reception --card card.json --access-log --lang en    # who viewed my data

It speaks only HTTP to the service (docs/API.md, "Terminal") and imports nothing from `service/`. Every card
action gets a fresh single-use challenge and a fresh card signature, retries included. Nothing of one patient
outlives the visit: the `Desk` (client, screen, camera, settings) holds no patient data; each patient gets a new
`Visit`, dropped when the visit ends, and `--loop` clears the screen before the next patient.

Exit codes: 0 eligible (or registration / unlink / access log done), 1 a negative answer, 2 the check could not be
done (card unreadable or locked, presence not proven, service error or unreachable: use the paper fallback),
130 interrupted.
"""

from __future__ import annotations

import argparse
import base64
import builtins
import getpass as getpass_module
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import httpx

from terminals.config import default_url
from virtualcard import CardError, CardLocked, VirtualCard, WrongPin

if TYPE_CHECKING:
    from facematch import CardFace, Challenge, FaceSession, FrameSource, MatchDecision

JST = timezone(timedelta(hours=9), "JST")
CATEGORIES = ("medication", "checkup")
CLEAR_SCREEN = "\x1b[2J\x1b[H"
RULE = "=" * 48
EXIT_OK, EXIT_NEGATIVE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 130

Lang = Literal["ja", "en"]
Method = Literal["face", "pin", "visual"]
Mode = Literal["check", "register", "unlink", "access_log"]
Text = tuple[str, str]
"""A screen text: (Japanese, English); templates take `str.format` fields."""
Json = Mapping[str, Any]
T = TypeVar("T")
METHODS: tuple[Method, ...] = ("face", "pin", "visual")


# Screen texts


class Msg:
    """Every sentence the terminal shows, in Japanese and English."""

    PAPER: Text = (
        "本日は資格確認書または保険証で受付してください。",
        "Use the paper fallback today: the eligibility certificate or the health insurance card.",
    )
    CHECK_NOT_DONE: Text = ("資格確認できませんでした。", "The eligibility check could not be done.")
    RETRYING: Text = ("通信エラー: 再試行中 ({n}/{total})", "Network error: retrying ({n}/{total})")
    UNAVAILABLE: Text = (
        "サービスと通信できないため資格確認できませんでした ({attempts}回試行)。後でもう一度確認してください。",
        "The service cannot be reached, so the check could not be done ({attempts} attempts). Check again later.",
    )
    UNEXPECTED: Text = ("サービスから想定外の応答がありました。", "The service sent an unexpected answer.")
    SERVICE_ERROR: Text = ("サービスのエラー", "Service error")
    REQUEST_ID: Text = ("問い合わせ番号", "Request id")
    CARD_UNREADABLE: Text = (
        "カードを読み取れません。カードを置き直してください。",
        "The card cannot be read: place it again.",
    )
    INSERT_CARD: Text = (
        "カードを置いてください (カードファイルのパス、空欄で終了)",
        "Place the card (card file path, empty to quit)",
    )
    NEXT_PATIENT: Text = ("次の方へ: Enter を押してください", "Next patient: press Enter")
    CANCELLED: Text = ("中止しました。", "Cancelled.")
    INTERRUPTED: Text = ("中断しました。", "Interrupted.")
    NO_TOKEN: Text = (
        "端末の認証情報がありません: --token または ONSHI_TERMINAL_TOKEN",
        "No terminal credential: pass --token or set ONSHI_TERMINAL_TOKEN",
    )
    CHOOSE_METHOD: Text = ("本人確認の方法を選んでください", "Choose how to confirm the patient's identity")
    METHOD_FACE: Text = ("顔認証", "face recognition")
    METHOD_PIN: Text = ("暗証番号 (4桁)", "PIN (4 digits)")
    METHOD_VISUAL: Text = ("職員による目視確認", "visual check by staff")
    METHOD_NOT_AVAILABLE: Text = ("この方法は使えません: {method}", "This method cannot be used: {method}")
    HOLDER_ONLY: Text = (
        "利用登録・解除・閲覧記録の確認はご本人の顔認証または暗証番号が必要です (目視確認は使えません)。",
        "Registration, unlinking and the access log need the holder's face or PIN (no visual check).",
    )
    INVALID_CHOICE: Text = ("選択肢の番号を入力してください。", "Enter the number of a choice.")
    ENTER_PIN: Text = ("暗証番号 (4桁) を入力してください", "Enter the PIN (4 digits)")
    PIN_FORMAT: Text = (
        "暗証番号は4桁の数字です (カードには送っていません)。",
        "The PIN is 4 digits (nothing was sent to the card).",
    )
    WRONG_PIN: Text = (
        "暗証番号が違います。あと{remaining}回間違えるとカードがロックされます。",
        "Wrong PIN: {remaining} more wrong attempt(s) lock the card.",
    )
    RETRY_PIN: Text = ("暗証番号をもう一度入力する", "enter the PIN again")
    PIN_LOCKED: Text = (
        "暗証番号が3回続けて違ったため、カードがロックされました。"
        "ロックの解除 (暗証番号の初期化) はお住まいの市区町村の窓口にお問い合わせください。",
        "The card is locked after too many wrong PINs: the holder must contact their municipal office "
        "to reset the PIN.",
    )
    PIN_LOCKED_AT_LOAD: Text = (
        "このカードは暗証番号がロックされています (解除は市区町村の窓口)。顔認証または目視確認で続けます。",
        "This card's PIN is locked (reset at the municipal office): continuing with face or visual check.",
    )
    CARD_UNUSABLE: Text = (
        "カードがロックされているため、このカードでは確認できません。市区町村の窓口でロックを解除してください。",
        "The card is locked and cannot be used: the holder must have it unlocked at the municipal office.",
    )
    OFFER_VISUAL: Text = (
        "職員による目視確認に切り替えますか?",
        "Switch to a visual check by staff?",
    )
    CONFIRM_VISUAL: Text = (
        "職員の方: カードの顔写真とご本人を目視で確認しましたか?",
        "Staff: have you checked the card's photo against the patient by sight?",
    )
    LOOK_AT_CAMERA: Text = ("カメラの方を向いてください。", "Look at the camera.")
    FACE_MATCHED: Text = ("顔認証できました。", "Face recognised.")
    FACE_RETRY: Text = ("もう一度顔認証しますか?", "Try face recognition again?")
    FACE_FALL_BACK: Text = (
        "顔認証を続けられません。暗証番号または職員の目視確認に切り替えます。",
        "Face recognition cannot continue: switching to the PIN or a visual check by staff.",
    )
    FACE_LOCKED: Text = (
        "顔認証が10回続けて失敗したため、このカードの顔認証はロックされています。暗証番号または職員の目視確認に切り替えます。",
        "Face matching on this card is locked after 10 consecutive failures: switching to the PIN or a "
        "visual check by staff.",
    )
    FACE_UNAVAILABLE: Text = ("顔認証を使えません: {reason}", "Face recognition is unavailable: {reason}")
    ASK_CONSENT: Text = (
        "{category}を医師・歯科医師・薬剤師が閲覧することに同意しますか?",
        "Do you agree that doctors, dentists and pharmacists here may view your {category_en}?",
    )
    CONSENT_GIVEN: Text = ("情報提供に同意しました: {categories}", "Consent given: {categories_en}")
    CONSENT_REFUSED: Text = ("情報提供に同意しませんでした。", "No consent given.")
    CONSENT_EXPIRES: Text = ("同意の有効期限: {expires}", "Consent valid until: {expires}")
    CONSENT_FAILED: Text = ("同意を登録できませんでした。", "The consent could not be recorded.")
    OFFER_REGISTER: Text = (
        "このカードで保険証の利用登録をしますか?",
        "Register this card for health-insurance use now?",
    )
    CONFIRM_UNLINK: Text = (
        "保険証の利用登録を解除すると、このカードで資格確認できなくなります。解除しますか?",
        "After unlinking, this card can no longer be used for eligibility checks. Unlink?",
    )
    UNLINKED: Text = ("保険証の利用登録を解除しました。", "The card is no longer registered for insurance use.")
    ACTION_FAILED: Text = ("処理できませんでした。", "The request could not be completed.")
    ACCESS_LOG: Text = ("あなたの情報の閲覧記録", "Who viewed your data")
    ACCESS_LOG_EMPTY: Text = ("閲覧記録はありません。", "Nobody has viewed your data.")
    CHECK_ID: Text = ("確認番号", "Check id")
    VALIDITY: Text = ("有効性", "Validity")
    NAME: Text = ("氏名", "Name")
    KANA: Text = ("フリガナ", "Kana")
    BIRTHDATE: Text = ("生年月日", "Birthdate")
    SEX: Text = ("性別", "Sex")
    INSURER: Text = ("保険者番号", "Insurer number")
    SYMBOL_NUMBER: Text = ("記号・番号・枝番", "Symbol / number / branch")
    HOLDER_KIND: Text = ("本人・家族", "Insured person / dependant")
    COPAY: Text = ("負担割合", "Copay")
    PERIOD: Text = ("有効期間", "Coverage")
    LIMIT: Text = ("限度額適用区分", "High-cost category")
    CERTIFICATE: Text = ("電子証明書の有効期限", "Certificate valid until")
    NONE: Text = ("なし", "none")


VALIDITY_CODES: dict[int, Text] = {
    1: ("有効", "valid"),
    2: ("無効", "invalid"),
    3: ("無効・新しい資格あり", "invalid, a newer qualification exists"),
    4: ("該当資格なし", "no qualification"),
    5: ("複数該当", "several qualifications match"),
}
HOLDER_KINDS: dict[str, Text] = {"1": ("本人", "insured person"), "2": ("家族", "dependant")}
SEXES: dict[str, Text] = {"1": ("男", "male"), "2": ("女", "female")}
CATEGORY_NAMES: dict[str, Text] = {"medication": ("薬剤情報", "medication"), "checkup": ("特定健診", "checkups")}
ROLE_NAMES: dict[str, Text] = {
    "doctor": ("医師", "doctor"),
    "dentist": ("歯科医師", "dentist"),
    "pharmacist": ("薬剤師", "pharmacist"),
    "reception": ("受付", "reception"),
}
METHOD_NAMES: dict[str, Text] = {"face": Msg.METHOD_FACE, "pin": Msg.METHOD_PIN, "visual": Msg.METHOD_VISUAL}

# What the screen says for each answer: the headline, then what the patient or the staff should do next.
OUTCOMES: dict[str, tuple[Text, tuple[Text, ...]]] = {
    "eligible": (("有効: 資格を確認できました", "Eligible: coverage confirmed"), ()),
    "expired_grace": (
        (
            "有効: 資格を確認できました (電子証明書は期限切れ・猶予期間中)",
            "Eligible (certificate expired, in its grace period)",
        ),
        (
            (
                "電子証明書の有効期限が切れています。3か月の猶予期間中のため資格確認はできますが、"
                "薬剤情報・特定健診情報の提供はできません。市区町村の窓口で電子証明書を更新してください。",
                "The card's certificate has expired: within the 3-month grace period eligibility is confirmed, but "
                "no medication or checkup data can be shared. Renew the certificate at the municipal office.",
            ),
        ),
    ),
    "code_2": (
        ("無効: この保険資格は無効です", "Not eligible: this insurance is not valid"),
        (
            (
                "資格喪失日などを保険者に確認し、現在加入している保険を患者さんに確認してください。",
                "Ask the patient for their current insurance and check the record with the insurer.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_3": (
        ("無効: 新しい保険資格があります", "Not eligible: a newer qualification exists"),
        (
            (
                "新しい保険証情報が登録されているか、新しい保険者に確認してください。",
                "Ask the new insurer whether the new insurance has been registered.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_4": (
        ("該当資格なし: 保険資格が見つかりません", "No qualification found"),
        (
            (
                "加入している保険を患者さんに確認し、保険者に確認してください。",
                "Ask the patient which insurance they have and check with that insurer.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_5": (
        ("複数該当: 複数の資格が該当するため確認できません", "Several qualifications match: cannot decide"),
        (("保険者に確認してください。", "Ask the insurer to correct the records."), Msg.PAPER),
    ),
    "not_eligible": (("資格を確認できませんでした", "Not eligible"), (Msg.PAPER,)),
    "not_registered": (
        ("利用登録が必要です: このカードは保険証として登録されていません", "Not registered for insurance use"),
        (
            (
                "このカードで保険証の利用登録ができます (--register)。",
                "The card can be registered for insurance use here (--register).",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_revoked": (
        ("電子証明書が失効しています", "The card's certificate has been revoked"),
        (
            (
                "お住まいの市区町村の窓口で電子証明書の再発行を受けてください。",
                "The holder must have the certificate reissued at their municipal office.",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_suspended": (
        ("電子証明書が一時停止中です (紛失の届出など)", "The card's certificate is suspended (reported lost)"),
        (
            (
                "カードが見つかった場合は、マイナンバー総合フリーダイヤル (コールセンター) で"
                "一時停止を解除してください。",
                "If the card was found, the holder must lift the suspension through the call centre hotline.",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_expired": (
        ("電子証明書の有効期限が切れています", "The card's certificate has expired"),
        (
            (
                "お住まいの市区町村の窓口で電子証明書を更新してください。",
                "The holder must renew the certificate at their municipal office.",
            ),
            Msg.PAPER,
        ),
    ),
    "unknown": (("資格を確認できませんでした: {result}", "The check gave an unknown answer: {result}"), (Msg.PAPER,)),
}
NO_VIEWING: Text = (
    "薬剤情報・特定健診情報の提供はできません。",
    "No medication or checkup data can be shared for this check.",
)
REGISTRATION_OUTCOMES: dict[str, Text] = {
    "linked": ("保険証の利用登録が完了しました。", "The card is now registered for insurance use."),
    "already_linked": ("このカードは既に利用登録されています。", "The card was already registered."),
    "needs_review": (
        "登録情報の一部 (氏名の字体・住所など) が一致しないため、保険者が確認します。確認後に利用できます。",
        "Some details (name characters, address) differ: the insurer will review them before the card can be used.",
    ),
    "no_match": (
        "一致する保険資格が見つかりません。保険者に届け出た氏名・生年月日・住所などを確認してください。",
        "No matching insurance record: check the name, birthdate and address registered with the insurer.",
    ),
    "ambiguous": (
        "複数の保険資格が該当するため登録できません。保険者に確認してください。",
        "Several records match, so nothing was linked: ask the insurer.",
    ),
}
CHALLENGE_ERRORS = frozenset({"challenge_not_usable", "challenge_expired"})
CERTIFICATE_STATES = ("suspended", "revoked", "expired")  # as the service names them in certificate_not_usable
CERTIFICATE_NOT_USABLE: Text = (
    "電子証明書がこの操作に使えない状態です。",
    "The card's certificate cannot be used for this in its present state.",
)
ERROR_HINTS: dict[int, Text] = {
    401: ("端末の認証に失敗しました。端末の設定 (トークン) を確認してください。", "The terminal's token is invalid."),
    403: ("この端末には許可されていない操作です。", "This terminal may not do this."),
    409: (
        "確認の有効期限が切れたか、既に使われています。もう一度カードを置いてやり直してください。",
        "The check expired or was already used: place the card again.",
    ),
    410: ("同意の有効期限が切れています。", "The consent has expired or was withdrawn."),
    422: (
        "カードの署名または電子証明書を確認できませんでした。",
        "The card's signature or certificate was not accepted.",
    ),
    429: ("混雑しています。しばらく待ってからやり直してください。", "The service is busy: try again shortly."),
}


def tr(text: Text, lang: Lang, **values: object) -> str:
    """The text in `lang`: Japanese with the English in parentheses, or English only."""
    ja, en = (part.format(**values) for part in text)
    return en if lang == "en" else f"{ja} ({en})"


def _line(label: Text, value: str, lang: Lang) -> str:
    return f"{tr(label, lang)}: {value}"


# Answers of the service


class ReceptionError(Exception):
    """The service could not give an answer; the message is for the staff (base of the client's errors)."""


class ServiceError(ReceptionError):
    """A non-2xx answer, with the contract's error body {"error", "detail"} when the service sent one."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.error, self.detail = _error_body(response)
        self.request_id = response.headers.get("X-Request-ID")
        super().__init__(f"HTTP {self.status_code} {self.error}: {self.detail}")


class ServiceUnavailable(ReceptionError):
    """Network errors or 5xx/429 until the retries ran out (or the service asked to wait too long)."""

    def __init__(self, *, attempts: int, reason: str) -> None:
        self.attempts, self.reason = attempts, reason
        super().__init__(f"service unavailable after {attempts} attempt(s): {reason}")


class UnexpectedAnswer(ReceptionError):
    """A 2xx answer that does not follow the contract, or that is about another card."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """The eligibility record a check found (`coverage` in the contract)."""

    insurer_number: str
    symbol: str
    number: str
    branch: str
    holder_kind: str
    name_kanji: str
    name_kana: str
    birthdate: str
    sex: str
    qualified_on: str
    disqualified_on: str | None
    copay_ratio: int | None
    limit_category: str | None

    @classmethod
    def from_answer(cls, body: Json) -> Coverage:
        """Parse the contract's `coverage` object."""
        return cls(
            insurer_number=_text(body.get("insurer_number")),
            symbol=_text(body.get("symbol")),
            number=_text(body.get("number")),
            branch=_text(body.get("branch")),
            holder_kind=_text(body.get("holder_kind")),
            name_kanji=_text(body.get("name_kanji")),
            name_kana=_text(body.get("name_kana")),
            birthdate=_text(body.get("birthdate")),
            sex=_text(body.get("sex")),
            qualified_on=_text(body.get("qualified_on")),
            disqualified_on=_optional_text(body.get("disqualified_on")),
            copay_ratio=_optional_int(body.get("copay_ratio")),
            limit_category=_optional_text(body.get("limit_category")),
        )


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The presented certificate as the service saw it."""

    serial: str
    not_after: str
    status: str


@dataclass(frozen=True, slots=True)
class VisitResult:
    """The answer of one eligibility check."""

    verification_id: str
    result: str
    validity_code: int | None
    coverage: Coverage | None
    certificate: CertificateInfo
    viewing_allowed: bool

    @property
    def eligible(self) -> bool:
        """True when the patient is covered today."""
        return self.result == "eligible"

    @classmethod
    def from_answer(cls, body: Json, *, serial: str) -> VisitResult:
        """Parse a verification answer, refusing one that is not about the card presented (`serial`)."""
        certificate = body.get("certificate")
        if not isinstance(certificate, Mapping) or _text(certificate.get("serial")) != serial:
            # A response bound to another card must never reach the screen (the 2023 print-job mix-ups).
            raise UnexpectedAnswer("the answer is not about the card presented")
        coverage = body.get("coverage")
        result = cls(
            verification_id=_required(body, "verification_id"),
            result=_required(body, "result"),
            validity_code=_optional_int(body.get("validity_code")),
            coverage=Coverage.from_answer(coverage) if isinstance(coverage, Mapping) else None,
            certificate=CertificateInfo(
                serial=serial,
                not_after=_text(certificate.get("not_after")),
                status=_text(certificate.get("status")),
            ),
            viewing_allowed=body.get("viewing_allowed") is True,
        )
        if result.eligible and result.coverage is None:
            raise UnexpectedAnswer("an eligible answer without coverage")
        return result


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent the service recorded."""

    consent_id: str
    categories: tuple[str, ...]
    expires_at: str


@dataclass(frozen=True, slots=True)
class Registration:
    """The answer to a registration (利用登録)."""

    status: str
    coverage: Coverage | None


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One view of the holder's data."""

    at: str
    facility_code: str
    facility_name: str
    role: str
    category: str


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _optional_int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise UnexpectedAnswer(f"expected a number, got {value!r}") from None


def _required(body: Json, key: str) -> str:
    if body.get(key) in (None, ""):
        raise UnexpectedAnswer(f"the answer has no {key!r}")
    return str(body[key])


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "http_error", response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"]), str(body.get("detail", ""))
    return "http_error", response.text[:300]


# The client


class Signer(Protocol):
    """What the client needs from a card (`virtualcard.VirtualCard` provides it)."""

    @property
    def certificate_der(self) -> bytes:
        """The user certificate (DER)."""
        ...

    @property
    def serial(self) -> str:
        """The certificate serial, decimal."""
        ...

    def sign(self, nonce: bytes, *, pin: str | None = None) -> bytes:
        """Sign the raw nonce, checking the PIN first if one is given."""
        ...


@dataclass(frozen=True, slots=True)
class Presence:
    """How the holder proved presence; the PIN goes to the card only, never to the service."""

    method: Method
    pin: str | None = field(default=None, repr=False)
    face_distance: float | None = None
    liveness_passed: bool | None = None

    @classmethod
    def from_face(cls, decision: MatchDecision) -> Presence:
        """A face match, with the distance and liveness flag facematch allows to leave the terminal."""
        payload = decision.to_service_payload()
        distance = payload.get("face_distance")
        return cls(
            "face",
            face_distance=float(distance) if isinstance(distance, int | float) else None,
            liveness_passed=bool(payload.get("liveness_passed")),
        )

    def payload(self) -> dict[str, object]:
        """The contract's `presence` object (facematch's `decision` key is not part of the contract)."""
        body: dict[str, object] = {"method": self.method}
        if self.face_distance is not None:
            body["face_distance"] = self.face_distance
        if self.liveness_passed is not None:
            body["liveness_passed"] = self.liveness_passed
        return body


@dataclass(frozen=True)
class Retry:
    """Exponential backoff for network errors, 5xx and 429; a reception desk cannot wait long."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1`: the service's Retry-After, else exponential."""
        asked = _retry_after_seconds(retry_after)
        if asked is not None:
            return asked
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


DEFAULT_RETRY = Retry()


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


class ReceptionClient:
    """The terminal's calls to the service; every card action gets a fresh challenge and a fresh signature."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        retry: Retry = DEFAULT_RETRY,
        on_retry: Callable[[int, int, str], None] | None = None,
    ) -> None:
        self.http = http
        self.retry = retry
        self.on_retry = on_retry or (lambda n, total, reason: None)

    def verify(self, card: Signer, presence: Presence, *, as_of: date | None = None) -> VisitResult:
        """Check the card holder's eligibility (POST /v1/verifications)."""
        body: dict[str, object] = {"presence": presence.payload()}
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        answer = self._prove("verify", "/v1/verifications", card, presence, body)
        return VisitResult.from_answer(answer, serial=card.serial)

    def give_consent(self, verification_id: str, categories: Sequence[str]) -> Consent:
        """Record the patient's choice for this check (an empty list records a refusal)."""
        body = {"verification_id": verification_id, "categories": list(categories)}
        answer = self._json(self._send_with_retry(lambda: self._post("/v1/consents", body)))
        return Consent(
            consent_id=_required(answer, "consent_id"),
            categories=tuple(str(c) for c in answer.get("categories") or ()),
            expires_at=_text(answer.get("expires_at")),
        )

    def register(self, card: Signer, presence: Presence) -> Registration:
        """Register the card for insurance use (利用登録), by the holder's own signature."""
        answer = self._prove("register", "/v1/registrations", card, presence, {})
        coverage = answer.get("coverage")
        return Registration(
            status=_required(answer, "status"),
            coverage=Coverage.from_answer(coverage) if isinstance(coverage, Mapping) else None,
        )

    def unlink(self, card: Signer, presence: Presence) -> str:
        """Unregister the card from insurance use (利用登録解除); returns the status."""
        answer = self._prove("unregister", "/v1/registrations/unlink", card, presence, {})
        return _required(answer, "status")

    def access_log(self, card: Signer, presence: Presence) -> list[AccessEntry]:
        """Every view of the holder's data, newest as the service orders them."""
        answer = self._prove("access_log", "/v1/me/access-log", card, presence, {})
        entries = answer.get("entries")
        if not isinstance(entries, list):
            raise UnexpectedAnswer("the access log has no 'entries' list")
        return [_access_entry(entry) for entry in entries if isinstance(entry, Mapping)]

    def _prove(self, purpose: str, path: str, card: Signer, presence: Presence, body: Json) -> Json:
        """POST a card proof, with a new challenge and signature for every attempt (never a reused nonce)."""

        def attempt() -> httpx.Response:
            challenge = self._post("/v1/challenges", {"purpose": purpose})
            if not challenge.is_success:
                return challenge
            challenge_id, nonce = _challenge(self._json(challenge))
            signature = card.sign(nonce, pin=presence.pin)
            proof = {
                "challenge_id": challenge_id,
                "certificate": base64.b64encode(card.certificate_der).decode("ascii"),
                "signature": base64.b64encode(signature).decode("ascii"),
            }
            return self._post(path, {**proof, **body})

        return self._json(self._send_with_retry(attempt, renew_on_conflict=True))

    def _send_with_retry(
        self, send: Callable[[], httpx.Response], *, renew_on_conflict: bool = False
    ) -> httpx.Response:
        """Call `send` until a final answer: back off on network errors, 5xx and 429; one more try on 409."""
        renewed = not renew_on_conflict
        attempt = 1
        while True:
            try:
                response = send()
            except httpx.TransportError as exc:
                wait, reason = self.retry.delay(attempt), f"{type(exc).__name__} ({self.http.base_url})"
            else:
                if response.status_code == 409 and not renewed and _error_body(response)[0] in CHALLENGE_ERRORS:
                    renewed = True  # the challenge expired between signing and sending: a new one, once
                    continue
                if not _retryable(response.status_code):
                    return response
                retry_after = response.headers.get("Retry-After")
                wait, reason = self.retry.delay(attempt, retry_after), f"HTTP {response.status_code}"
            if attempt >= self.retry.attempts or wait > self.retry.max_delay:
                # Waiting longer than max_delay keeps a patient at the desk: the paper fallback is faster.
                raise ServiceUnavailable(attempts=attempt, reason=reason)
            self.on_retry(attempt, self.retry.attempts - 1, reason)
            self.retry.sleep(wait)
            attempt += 1

    def _post(self, path: str, body: Json) -> httpx.Response:
        return self.http.post(path, json=body, headers={"X-Request-ID": str(uuid.uuid4())})

    @staticmethod
    def _json(response: httpx.Response) -> Json:
        if response.is_error:
            raise ServiceError(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UnexpectedAnswer(f"HTTP {response.status_code}: expected a JSON object")
        return body


def _challenge(body: Json) -> tuple[str, bytes]:
    try:
        return _required(body, "challenge_id"), base64.b64decode(_required(body, "nonce"), validate=True)
    except ValueError as exc:
        raise UnexpectedAnswer(f"unusable challenge: {exc}") from exc


def _access_entry(entry: Json) -> AccessEntry:
    return AccessEntry(
        at=_text(entry.get("at")),
        facility_code=_text(entry.get("facility_code")),
        facility_name=_text(entry.get("facility_name")),
        role=_text(entry.get("role")),
        category=_text(entry.get("category")),
    )


def make_client(url: str, token: str, *, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for the service with the terminal's bearer token and short timeouts."""
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "onshi-reception/1"}
    return httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(10.0, connect=3.0), transport=transport)


# Rendering (pure functions: an answer in, the screen's text out)


def outcome_key(result: VisitResult) -> str:
    """Which screen an answer gets: eligible, expired_grace, code_2..code_5, a certificate problem..."""
    if result.eligible:
        return "expired_grace" if result.certificate.status == "expired_grace" else "eligible"
    if result.result == "not_eligible":
        code = f"code_{result.validity_code}"
        return code if code in OUTCOMES else "not_eligible"
    return result.result if result.result in OUTCOMES else "unknown"


def render_result(result: VisitResult, lang: Lang = "ja") -> str:
    """The reception screen for one check: the headline, the coverage found, what to do next."""
    headline, steps = OUTCOMES[outcome_key(result)]
    lines = [RULE, tr(headline, lang, result=result.result), RULE]
    if result.validity_code in VALIDITY_CODES:
        label = tr(VALIDITY_CODES[result.validity_code], lang)
        lines.append(_line(Msg.VALIDITY, f"{result.validity_code} {label}", lang))
    if result.coverage is not None:
        lines += render_coverage(result.coverage, lang)
    if result.certificate.not_after:
        lines.append(_line(Msg.CERTIFICATE, _local_time(result.certificate.not_after, date_only=True), lang))
    if result.eligible and not result.viewing_allowed and outcome_key(result) == "eligible":
        lines.append(tr(NO_VIEWING, lang))
    lines += [tr(step, lang) for step in steps]
    lines.append(_line(Msg.CHECK_ID, result.verification_id, lang))
    return "\n".join(lines)


def render_coverage(coverage: Coverage, lang: Lang = "ja") -> list[str]:
    """The record's lines as a reception screen shows them."""
    number = f"{coverage.symbol}・{coverage.number}・{coverage.branch}"
    return [
        _line(Msg.NAME, coverage.name_kanji, lang),
        _line(Msg.KANA, coverage.name_kana, lang),
        _line(Msg.BIRTHDATE, coverage.birthdate, lang),
        _line(Msg.SEX, _choice(SEXES, coverage.sex, lang), lang),
        _line(Msg.INSURER, coverage.insurer_number, lang),
        _line(Msg.SYMBOL_NUMBER, number, lang),
        _line(Msg.HOLDER_KIND, _choice(HOLDER_KINDS, coverage.holder_kind, lang), lang),
        _line(Msg.COPAY, copay_text(coverage.copay_ratio, lang), lang),
        _line(Msg.PERIOD, period_text(coverage.qualified_on, coverage.disqualified_on, lang), lang),
        _line(Msg.LIMIT, coverage.limit_category or tr(Msg.NONE, lang), lang),
    ]


def _choice(table: Mapping[str, Text], value: str, lang: Lang) -> str:
    return tr(table[value], lang) if value in table else value


def copay_text(ratio: int | None, lang: Lang = "ja") -> str:
    """3割 (30%) from the contract's percentage (10, 20, 30); 1-3 are read as 割 already."""
    if ratio is None:
        return "-"
    percent = ratio * 10 if ratio <= 3 else ratio
    wari = f"{percent / 10:g}割"
    return f"{percent}%" if lang == "en" else f"{wari} ({percent}%)"


def period_text(qualified_on: str, disqualified_on: str | None, lang: Lang = "ja") -> str:
    """From the 資格取得日 to the last covered day (the 資格喪失日 is the first day NOT covered)."""
    if not disqualified_on:
        return f"{qualified_on} ～" if lang == "ja" else f"from {qualified_on}"
    try:
        last = (date.fromisoformat(disqualified_on) - timedelta(days=1)).isoformat()
    except ValueError:
        last = "?"
    if lang == "en":
        return f"{qualified_on} to {last} (disqualified on {disqualified_on})"
    return f"{qualified_on} ～ {last} (資格喪失日 {disqualified_on})"


def render_consent(consent: Consent, lang: Lang = "ja") -> str:
    """The consent's categories and its expiry (Japan time)."""
    if not consent.categories:
        return tr(Msg.CONSENT_REFUSED, lang)
    given = tr(
        Msg.CONSENT_GIVEN,
        lang,
        categories="・".join(CATEGORY_NAMES.get(c, (c, c))[0] for c in consent.categories),
        categories_en=", ".join(CATEGORY_NAMES.get(c, (c, c))[1] for c in consent.categories),
    )
    return f"{given}\n{tr(Msg.CONSENT_EXPIRES, lang, expires=_local_time(consent.expires_at))}"


def render_registration(registration: Registration, lang: Lang = "ja") -> str:
    """What a registration attempt did, and the record linked when there is one."""
    text = REGISTRATION_OUTCOMES.get(registration.status, (registration.status, registration.status))
    lines = [RULE, tr(text, lang), RULE]
    if registration.coverage is not None:
        lines += render_coverage(registration.coverage, lang)
    return "\n".join(lines)


def render_access_log(entries: Sequence[AccessEntry], lang: Lang = "ja") -> str:
    """Who viewed the holder's data: when, where, which role, what."""
    lines = [RULE, tr(Msg.ACCESS_LOG, lang), RULE]
    if not entries:
        lines.append(tr(Msg.ACCESS_LOG_EMPTY, lang))
    for entry in entries:
        role = _choice(ROLE_NAMES, entry.role, lang)
        category = _choice(CATEGORY_NAMES, entry.category, lang)
        facility = f"{entry.facility_name} ({entry.facility_code})"
        lines.append(f"{_local_time(entry.at)}  {facility}  {role}  {category}")
    return "\n".join(lines)


def error_hints(error: ServiceError) -> list[Text]:
    """What to tell the staff, by the error's own code first (its real cause), else by its HTTP status.

    A 409 is "the check expired, place the card again" only for a challenge error: a suspended card refused the
    access log is told that its certificate is suspended, and what to do about it.
    """
    if error.error == "certificate_not_usable":
        state = next((s for s in CERTIFICATE_STATES if s in error.detail), None)
        if state is None:
            return [CERTIFICATE_NOT_USABLE]
        headline, advice = OUTCOMES[f"certificate_{state}"]
        return [headline, *(line for line in advice if line != Msg.PAPER)]
    if error.status_code == 409 and error.error not in CHALLENGE_ERRORS:
        return []  # the service's detail, shown above, says what conflicted
    hint = ERROR_HINTS.get(error.status_code)
    return [hint] if hint else []


def render_error(error: ReceptionError, lang: Lang = "ja", *, action: Mode | Literal["consent"] = "check") -> str:
    """Why the service gave no answer and what to do; a failed check always ends with the paper fallback."""
    headline = {"check": Msg.CHECK_NOT_DONE, "consent": Msg.CONSENT_FAILED}.get(action, Msg.ACTION_FAILED)
    lines = [RULE, tr(headline, lang), RULE]
    if isinstance(error, ServiceUnavailable):
        lines += [tr(Msg.UNAVAILABLE, lang, attempts=error.attempts), f"[{error.reason}]"]
    elif isinstance(error, ServiceError):
        lines.append(f"{tr(Msg.SERVICE_ERROR, lang)}: HTTP {error.status_code} {error.error}: {error.detail}")
        lines += [tr(hint, lang) for hint in error_hints(error)]
        if error.request_id:
            lines.append(_line(Msg.REQUEST_ID, error.request_id, lang))
    else:
        lines += [tr(Msg.UNEXPECTED, lang), f"[{error}]"]
    if action == "check":
        lines.append(tr(Msg.PAPER, lang))
    return "\n".join(lines)


def _local_time(value: str, *, date_only: bool = False) -> str:
    """An RFC 3339 timestamp in Japan time, as the desk reads it; unreadable values as they came."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(JST)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


# The desk: screen, keypad, camera


@dataclass(frozen=True)
class Console:
    """The desk's screen and keypad; input and getpass are injected for tests."""

    lang: Lang = "ja"
    ask: Callable[[str], str] = builtins.input
    ask_secret: Callable[[str], str] = getpass_module.getpass
    show: Callable[[str], None] = print

    def say(self, text: Text, **values: object) -> None:
        """Show one sentence."""
        self.show(tr(text, self.lang, **values))

    def prompt(self, text: Text, *, suffix: str = "", **values: object) -> str | None:
        """Ask for a line; None when the input ends."""
        try:
            return self.ask(f"{tr(text, self.lang, **values)}{suffix} > ").strip()
        except EOFError:
            return None

    def secret(self, text: Text) -> str | None:
        """Ask without echo (the PIN); None when the input ends."""
        try:
            return self.ask_secret(f"{tr(text, self.lang)}: ").strip()
        except EOFError:
            return None

    def confirm(self, text: Text, *, default: bool = False) -> bool:
        """A yes/no question; Enter takes the default."""
        answer = self.prompt(text, suffix=" [Y/n]" if default else " [y/N]")
        if not answer:
            return default and answer is not None
        return answer.lower() in ("y", "yes", "はい")

    def choose(self, text: Text, options: Sequence[tuple[str, Text]]) -> str | None:
        """A numbered choice; None when the input ends or after three unusable answers."""
        self.say(text)
        for number, (_, label) in enumerate(options, 1):
            self.show(f"  {number}: {tr(label, self.lang)}")
        for _ in range(3):
            answer = self.prompt(("番号", "Number"))
            if answer is None:
                return None
            keys = {str(number): key for number, (key, _) in enumerate(options, 1)} | {k: k for k, _ in options}
            if answer in keys:
                return keys[answer]
            self.say(Msg.INVALID_CHOICE)
        return None

    def retrying(self, n: int, total: int, reason: str) -> None:
        """The client's retry notice: 通信エラー: 再試行中 (n/N)."""
        self.show(f"{tr(Msg.RETRYING, self.lang, n=n, total=total)} [{reason}]")

    def clear(self) -> None:
        """Wipe the screen before the next patient."""
        self.show(CLEAR_SCREEN)


class FaceUnavailable(Exception):
    """Face matching cannot run here: facematch not installed, no camera frame, no model."""


class FaceMatcherLike(Protocol):
    """What the terminal needs of `facematch.FaceMatcher`."""

    def enrol(self, card_photo: bytes) -> CardFace:
        """The card photo, gated and encoded: once per visit."""
        ...

    def start(self, card: CardFace, challenge: Challenge | None = None) -> FaceSession:
        """A new attempt with a freshly drawn challenge."""
        ...

    def card_unusable(self, card: CardFace) -> MatchDecision:
        """The decision when the card photo cannot be used."""
        ...


class FaceCamera:
    """The camera and the matcher, made on first use: facematch and OpenCV are an optional install.

    `source` is facematch's frame source: a camera index (default 0), a video or image file (a recording:
    it answers no new challenge), or `simulate:PHOTO` (a synthetic patient who follows the prompts; demo).
    """

    def __init__(
        self,
        source: str | None = None,
        *,
        matcher: FaceMatcherLike | None = None,
        open_source: Callable[[str | None], FrameSource] | None = None,
    ) -> None:
        self.source = source
        self._matcher = matcher
        self._open_source = open_source

    def verify(
        self, card: VirtualCard, show: Callable[[Text], None], card_face: CardFace | None = None
    ) -> tuple[MatchDecision, CardFace]:
        """One challenged attempt against the card's photo, recorded on the card (CardLocked if locked).

        The prompts (顔を左に向けてください...) and the guidance (マスクを外してください...) go to `show` as they
        change. `card_face` is the card photo enrolled earlier in this visit (encoded once per visit).
        """
        try:
            import facematch
        except ImportError as exc:
            raise FaceUnavailable(f"facematch is not installed ({exc.name})") from exc
        try:
            if self._matcher is None:
                self._matcher = facematch.FaceMatcher()
            enrolled = card_face or self._matcher.enrol(card.face_image)
            if not enrolled.usable:
                return self._matcher.card_unusable(enrolled), enrolled
            facematch.refuse_if_locked(card)
            session = self._matcher.start(enrolled)
            source = (self._open_source or facematch.open_source)(self.source)
            try:
                decision = facematch.run_attempt(session, source, on_text=lambda _prompt, ja, en: show((ja, en)))
            finally:
                source.close()
            facematch.record_attempt(card, decision)
            return decision, enrolled
        except facematch.FaceLockedError as exc:
            raise CardLocked(str(exc)) from exc
        except facematch.FaceMatchError as exc:
            raise FaceUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class Options:
    """What the command line fixed for every visit; a preset PIN is allowed only outside --loop."""

    mode: Mode = "check"
    presence: Method | None = None
    pin: str | None = field(default=None, repr=False)
    consent: tuple[str, ...] | None = None  # None: ask the patient
    as_of: date | None = None


@dataclass
class Desk:
    """The terminal's lasting parts: client, screen, camera, settings; never a patient's data."""

    client: ReceptionClient
    console: Console
    camera: FaceCamera = field(default_factory=FaceCamera)
    options: Options = field(default_factory=Options)

    def visit(self, card_path: Path | str) -> int:
        """One patient: read the card, run the chosen flow, show the screen; returns the exit code."""
        try:
            card = VirtualCard.load(card_path)
        except CardError as exc:
            self.console.say(Msg.CARD_UNREADABLE)
            self.console.show(f"[{exc}]")
            return EXIT_FAILED
        return Visit(self, card).run()

    def serve(self, first_card: Path | str | None = None) -> int:
        """Patient after patient: between two, wait for Enter, clear the screen, ask for the next card."""
        card_path: Path | str | None = first_card
        while True:
            if card_path is None:
                card_path = self.console.prompt(Msg.INSERT_CARD)
                if not card_path:
                    return EXIT_OK
            self.visit(card_path)
            card_path = None
            if self.console.prompt(Msg.NEXT_PATIENT) is None:
                return EXIT_OK
            self.console.clear()


class Visit:
    """One patient at the desk: the card and everything learnt about them live here and go with the visit."""

    def __init__(self, desk: Desk, card: VirtualCard) -> None:
        self.card = card
        self.client = desk.client
        self.console = desk.console
        self.camera = desk.camera
        self.options = desk.options
        self._preset_pin = desk.options.pin
        self._proven: Presence | None = None  # the presence the card last signed with
        self._card_face: CardFace | None = None  # the card photo enrolled for face matching, once per visit

    def run(self) -> int:
        """The flow the desk is set to: check (default), register, unlink or access log."""
        if self.card.pin_locked:
            self.console.say(Msg.PIN_LOCKED_AT_LOAD)
        flows = {"check": self.check, "register": self.register, "unlink": self.unlink, "access_log": self.access_log}
        return flows[self.options.mode]()

    # The flows

    def check(self) -> int:
        """Presence, eligibility, the screen, then consent when viewing is allowed."""
        presence = self.presence(allow_visual=True)
        if presence is None:
            return self._not_done()
        as_of = self.options.as_of
        try:
            result = self._with_card(lambda p: self.client.verify(self.card, p, as_of=as_of), presence)
        except ReceptionError as exc:
            self.console.show(render_error(exc, self.console.lang))
            return EXIT_FAILED
        if result is None:
            return self._not_done()
        self.console.show(render_result(result, self.console.lang))
        if result.viewing_allowed:
            self._consent(result.verification_id)
        elif result.result == "not_registered" and self.console.confirm(Msg.OFFER_REGISTER):
            proven = self._proven
            self._register(proven if proven and proven.method != "visual" else self.presence(allow_visual=False))
        return EXIT_OK if result.eligible else EXIT_NEGATIVE

    def register(self) -> int:
        """利用登録, by the holder's face or PIN."""
        return self._register(self.presence(allow_visual=False))

    def unlink(self) -> int:
        """利用登録解除, after the holder confirms."""
        if not self.console.confirm(Msg.CONFIRM_UNLINK):
            self.console.say(Msg.CANCELLED)
            return EXIT_FAILED
        presence = self.presence(allow_visual=False)
        status = self._card_action(lambda p: self.client.unlink(self.card, p), presence, "unlink")
        if status is None:
            return EXIT_FAILED
        if status != "unlinked":
            self.console.show(status)
            return EXIT_NEGATIVE
        self.console.say(Msg.UNLINKED)
        return EXIT_OK

    def access_log(self) -> int:
        """Show the holder who viewed their data."""
        presence = self.presence(allow_visual=False)
        entries = self._card_action(lambda p: self.client.access_log(self.card, p), presence, "access_log")
        if entries is None:
            return EXIT_FAILED
        self.console.show(render_access_log(entries, self.console.lang))
        return EXIT_OK

    def _register(self, presence: Presence | None) -> int:
        registration = self._card_action(lambda p: self.client.register(self.card, p), presence, "register")
        if registration is None:
            return EXIT_FAILED
        self.console.show(render_registration(registration, self.console.lang))
        return EXIT_OK if registration.status in ("linked", "already_linked") else EXIT_NEGATIVE

    def _card_action(self, action: Callable[[Presence], T], presence: Presence | None, mode: Mode) -> T | None:
        """A holder-only card action; errors shown, None when it did not happen."""
        if presence is None:
            self.console.say(Msg.CANCELLED)
            return None
        try:
            return self._with_card(action, presence, allow_visual=False)
        except ReceptionError as exc:
            self.console.show(render_error(exc, self.console.lang, action=mode))
            return None

    def _consent(self, verification_id: str) -> None:
        categories = self.options.consent
        if categories is None:
            categories = tuple(c for c in CATEGORIES if self._agrees(c))
        try:
            consent = self.client.give_consent(verification_id, categories)
        except ReceptionError as exc:
            self.console.show(render_error(exc, self.console.lang, action="consent"))
            return
        self.console.show(render_consent(consent, self.console.lang))

    def _agrees(self, category: str) -> bool:
        ja, en = CATEGORY_NAMES[category]
        question = tuple(part.format(category=ja, category_en=en) for part in Msg.ASK_CONSENT)
        return self.console.confirm((question[0], question[1]))

    def _not_done(self) -> int:
        self.console.say(Msg.CHECK_NOT_DONE)
        self.console.say(Msg.PAPER)
        return EXIT_FAILED

    # Presence

    def presence(self, *, allow_visual: bool) -> Presence | None:
        """Prove the holder is present: face, PIN or (for a check only) a visual check by staff."""
        methods = [m for m in METHODS if (allow_visual or m != "visual") and not (m == "pin" and self.card.pin_locked)]
        method = self.options.presence
        if method is not None and method not in methods:
            self.console.say(Msg.HOLDER_ONLY if method == "visual" else Msg.METHOD_NOT_AVAILABLE, method=method)
            method = None
        while methods:
            method = method or self._choose_method(methods)
            if method == "face":
                presence = self._face()
                if presence is not None:
                    return presence
                methods.remove("face")
                method = None
                continue
            if method == "pin":
                pin = self._take_pin()
                return None if pin is None else Presence("pin", pin=pin)
            return self._visual() if method == "visual" else None
        return None

    def _choose_method(self, methods: Sequence[Method]) -> Method | None:
        if len(methods) == 1:
            return methods[0]
        choice = self.console.choose(Msg.CHOOSE_METHOD, [(m, METHOD_NAMES[m]) for m in methods])
        return next((m for m in methods if m == choice), None)

    def _face(self) -> Presence | None:
        if self.card.face_locked:
            self.console.say(Msg.FACE_LOCKED)
            return None
        while True:
            self.console.say(Msg.LOOK_AT_CAMERA)
            try:
                decision, self._card_face = self.camera.verify(self.card, self.console.say, self._card_face)
            except CardLocked:
                self.console.say(Msg.FACE_LOCKED)
                return None
            except FaceUnavailable as exc:
                self.console.say(Msg.FACE_UNAVAILABLE, reason=str(exc))
                return None
            if decision.matched:
                self.console.say(Msg.FACE_MATCHED)
                return Presence.from_face(decision)
            for refusal in decision.refusals[:1]:
                self.console.say((refusal.message_ja, refusal.message))
            if self.card.face_locked:
                self.console.say(Msg.FACE_LOCKED)
                return None
            if decision.should_fall_back or not self.console.confirm(Msg.FACE_RETRY, default=True):
                self.console.say(Msg.FACE_FALL_BACK)
                return None

    def _take_pin(self) -> str | None:
        pin, self._preset_pin = self._preset_pin, None  # a preset PIN is tried once, then the keypad
        for _ in range(3):
            if pin is None:
                pin = self.console.secret(Msg.ENTER_PIN)
                if pin is None:
                    return None
            # A malformed entry would still count as a failure on the card: refuse it here.
            if len(pin) == 4 and pin.isascii() and pin.isdigit():
                return pin
            self.console.say(Msg.PIN_FORMAT)
            pin = None
        return None

    def _visual(self) -> Presence | None:
        return Presence("visual") if self.console.confirm(Msg.CONFIRM_VISUAL) else None

    def _with_card(self, action: Callable[[Presence], T], presence: Presence, *, allow_visual: bool = True) -> T | None:
        """Run a card action, handling the card's own answers: a wrong PIN, a locked card."""
        while True:
            try:
                answer = action(presence)
            except WrongPin as exc:
                self.console.say(Msg.WRONG_PIN, remaining=exc.remaining)
                next_presence = self._after_wrong_pin(allow_visual)
            except CardLocked:
                next_presence = self._after_lock(presence, allow_visual)
            else:
                self._proven = presence
                return answer
            if next_presence is None:
                return None
            presence = next_presence

    def _after_wrong_pin(self, allow_visual: bool) -> Presence | None:
        options = [("pin", Msg.RETRY_PIN)] + ([("visual", Msg.METHOD_VISUAL)] if allow_visual else [])
        choice = self.console.choose(Msg.CHOOSE_METHOD, options)
        if choice == "pin":
            pin = self._take_pin()
            return None if pin is None else Presence("pin", pin=pin)
        return self._visual() if choice == "visual" else None

    def _after_lock(self, presence: Presence, allow_visual: bool) -> Presence | None:
        if presence.method != "pin":
            # A card that refuses to sign even for a face or visual check (a stricter card than ours): stop.
            self.console.say(Msg.CARD_UNUSABLE)
            return None
        self.console.say(Msg.PIN_LOCKED)
        if allow_visual and self.console.confirm(Msg.OFFER_VISUAL):
            return self._visual()
        return None


# Command line


def _consent_choice(value: str) -> tuple[str, ...] | None:
    if value == "ask":
        return None
    if value == "none":
        return ()
    chosen = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected medication,checkup | none | ask (got {value!r})")
    return chosen


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD (got {value!r})") from None


def build_parser() -> argparse.ArgumentParser:
    """Arguments; --url and --token default to ONSHI_URL and ONSHI_TERMINAL_TOKEN."""
    parser = argparse.ArgumentParser(prog="python -m terminals.reception", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=default_url(),
        help="service base URL (default: ONSHI_URL, else http://ONSHI_HOST:ONSHI_PORT, i.e. 127.0.0.1:8000)",
    )
    parser.add_argument("--token", default=os.environ.get("ONSHI_TERMINAL_TOKEN"), help="terminal bearer token")
    parser.add_argument("--card", type=Path, help="the virtual card file (asked for when omitted)")
    parser.add_argument("--presence", choices=METHODS, help="face | pin | visual (asked for when omitted)")
    parser.add_argument("--pin", help="the card PIN (asked for without echo when omitted; not with --loop)")
    parser.add_argument(
        "--camera", help="for face: a camera index (default 0), a video or image file, or simulate:PHOTO (demo)"
    )
    parser.add_argument(
        "--consent", type=_consent_choice, default=None, metavar="medication,checkup|none|ask",
        help="what the patient agrees to share (default: ask)",
    )  # fmt: skip
    parser.add_argument("--as-of", type=_date, help="check eligibility as of YYYY-MM-DD (default: today)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--register", dest="mode", action="store_const", const="register", help="利用登録")
    mode.add_argument("--unlink", dest="mode", action="store_const", const="unlink", help="利用登録解除")
    mode.add_argument(
        "--access-log", dest="mode", action="store_const", const="access_log", help="who viewed the holder's data"
    )
    parser.add_argument("--loop", action="store_true", help="serve patient after patient")
    parser.add_argument("--lang", choices=("ja", "en"), default="ja")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRY.attempts, help="attempts per request")
    parser.set_defaults(mode="check")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    input: Callable[[str], str] = builtins.input,
    getpass: Callable[[str], str] = getpass_module.getpass,
    output: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    matcher: FaceMatcherLike | None = None,
    open_source: Callable[[str | None], FrameSource] | None = None,
) -> int:
    """Run the terminal; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.loop and (args.pin or args.consent is not None):
        parser.error("--loop serves many patients: each enters their own PIN and gives their own consent")
    console = Console(args.lang, ask=input, ask_secret=getpass, show=output)
    if not args.token:
        console.say(Msg.NO_TOKEN)
        return EXIT_FAILED
    options = Options(mode=args.mode, presence=args.presence, pin=args.pin, consent=args.consent, as_of=args.as_of)
    camera = FaceCamera(args.camera, matcher=matcher, open_source=open_source)
    retry = Retry(attempts=max(args.retries, 1), sleep=sleep)
    try:
        with make_client(args.url, args.token, transport=transport) as http:
            desk = Desk(ReceptionClient(http, retry=retry, on_retry=console.retrying), console, camera, options)
            if args.loop:
                return desk.serve(args.card)
            card_path = args.card or console.prompt(Msg.INSERT_CARD)
            return desk.visit(card_path) if card_path else EXIT_FAILED
    except KeyboardInterrupt:
        console.say(Msg.INTERRUPTED)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
