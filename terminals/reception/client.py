"""The terminal's HTTP client: the service's answers as typed values, retries, a fresh challenge per card action."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

import httpx

from terminals.reception.texts import CHALLENGE_ERRORS, Json, Method

if TYPE_CHECKING:
    from facematch import MatchDecision


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
