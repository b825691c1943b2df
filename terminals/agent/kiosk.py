"""The reception kiosk's API for its page: place a card, prove presence, check, register, consent, reset.

It reuses the reception terminal's HTTP client (`terminals.reception.client`: a fresh challenge and signature for
every card action, retries) and its texts and outcome rules (`outcome_key`, `OUTCOMES`): the kiosk is the same
reception flow with a page for a screen. One patient at a time: `KioskVisit` holds everything learnt about them
and is dropped by `reset` (a new card, or the page going back to its idle screen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from terminals.agent import reader
from terminals.agent.errors import AgentError, from_card, from_service
from terminals.reception import (
    Consent,
    Presence,
    ReceptionClient,
    ReceptionError,
    VisitResult,
    copay_text,
    outcome_key,
    period_text,
)
from terminals.reception.texts import (
    CATEGORY_NAMES,
    HOLDER_KINDS,
    OUTCOMES,
    REGISTRATION_OUTCOMES,
    VALIDITY_CODES,
    Msg,
)
from virtualcard import CardError, VirtualCard

FacilityType = Literal["clinic", "hospital", "dental", "pharmacy"]
# What a facility's doctors, dentists or pharmacists may see, by the service's default access policy
# (service/consent/policy.py): the kiosk asks consent only for that. Pharmacies see checkups only when the
# service is set to allow it (ONSHI_CHECKUP_AT_PHARMACIES), mirrored here by --checkup-at-pharmacies.
ASKED: dict[str, tuple[str, ...]] = {
    "clinic": ("medication", "checkup"), "hospital": ("medication", "checkup"), "dental": ("medication", "checkup"),
    "pharmacy": ("medication",),
}


class PlaceIn(BaseModel):
    """The card put on the (demo) reader, by name."""

    card: str = Field(min_length=1, max_length=64)


class VerifyIn(BaseModel):
    """How the patient proved presence; the PIN goes to the card only."""

    method: Literal["pin", "visual"]
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4}$")


class ConsentIn(BaseModel):
    """The categories the patient agreed to share (empty: refused)."""

    categories: list[Literal["medication", "checkup"]] = Field(max_length=2)


@dataclass
class KioskVisit:
    """One patient: the card, how they proved presence, the answer; dropped at the reset."""

    card: VirtualCard
    presence: Presence | None = None
    result: VisitResult | None = field(default=None, repr=False)
    face: Any = field(default=None, repr=False)  # terminals.agent.face.FaceAttempt: the card photo, the session


@dataclass
class Kiosk:
    """The kiosk's lasting parts (client, reader, settings) and the visit of the patient at the desk, if any."""

    client: ReceptionClient
    reader: reader.DemoReader
    facility_type: FacilityType = "clinic"
    checkup_at_pharmacies: bool = False
    face: bool = True  # offer the face check to cards with a photo
    visit: KioskVisit | None = None

    def asked(self) -> list[str]:
        """The consent categories this facility asks about."""
        if self.facility_type == "pharmacy" and self.checkup_at_pharmacies:
            return ["medication", "checkup"]
        return list(ASKED[self.facility_type])

    def current(self) -> KioskVisit:
        """The visit in progress (409 when no card is on the reader)."""
        if self.visit is None:
            raise AgentError(409, "no_card", "カードを置いてください。")
        return self.visit


def _staff_view(result: VisitResult) -> dict[str, object]:
    """What reception staff need: validity, insurer, 記号・番号・枝番, copay, coverage dates."""
    validity = VALIDITY_CODES.get(result.validity_code or 0, ("-", "-"))[0]
    view: dict[str, object] = {"validity": validity, "validity_code": result.validity_code,
                               "certificate_status": result.certificate.status}
    if result.coverage is not None:
        c = result.coverage
        view |= {
            "name_kanji": c.name_kanji, "name_kana": c.name_kana, "birthdate": c.birthdate,
            "insurer_number": c.insurer_number, "symbol_number": f"{c.symbol}・{c.number}・{c.branch}",
            "holder_kind": HOLDER_KINDS.get(c.holder_kind, (c.holder_kind, ""))[0],
            "copay": copay_text(c.copay_ratio), "period": period_text(c.qualified_on, c.disqualified_on),
            "limit_category": c.limit_category or Msg.NONE[0],
        }
    return view


def screen(result: VisitResult, asked: list[str]) -> dict[str, object]:
    """The answer as the page shows it: the headline and steps of the CLI's outcome table, and the staff view."""
    key = outcome_key(result)
    headline, steps = OUTCOMES[key]
    return {
        "outcome": key, "eligible": result.eligible, "headline": headline[0].format(result=result.result),
        "steps": [step[0] for step in steps], "viewing_allowed": result.viewing_allowed,
        "ask": [{"category": c, "name": CATEGORY_NAMES[c][0]} for c in asked] if result.viewing_allowed else [],
        "staff": _staff_view(result),
    }


def _kiosk(request: Request) -> Kiosk:
    kiosk: Kiosk = request.app.state.kiosk
    return kiosk


def run_check(kiosk: Kiosk, visit: KioskVisit, presence: Presence) -> dict[str, object]:
    """The eligibility check with this presence; the answer as the page shows it."""
    try:
        result = kiosk.client.verify(visit.card, presence)
    except CardError as exc:
        raise from_card(exc) from None
    except ReceptionError as exc:
        raise from_service(exc) from None
    visit.presence, visit.result = presence, result
    return screen(result, kiosk.asked())


router = APIRouter(prefix="/api/kiosk")


@router.get("/cards")
def cards(request: Request) -> dict[str, list[str]]:
    """The demo cards that can be placed on the reader."""
    return {"cards": _kiosk(request).reader.names()}


@router.post("/place")
def place(body: PlaceIn, request: Request) -> dict[str, object]:
    """A card on the reader: a new visit (whatever came before is dropped), and the methods it allows."""
    kiosk = _kiosk(request)
    kiosk.visit = None
    card = kiosk.reader.place(body.card)
    kiosk.visit = KioskVisit(card=card)
    info = reader.describe(card)
    face = kiosk.face and info.has_photo and not info.face_locked
    methods = [m for m in ("face", "pin", "visual") if not (m == "pin" and info.pin_locked) and (m != "face" or face)]
    return {"pin_locked": info.pin_locked, "face_locked": info.face_locked, "methods": methods}


@router.post("/verify")
def verify(body: VerifyIn, request: Request) -> dict[str, object]:
    """The eligibility check with the PIN (checked by the card) or the staff's visual check."""
    kiosk = _kiosk(request)
    if body.method == "pin" and body.pin is None:
        raise AgentError(422, "invalid_input", "暗証番号 (4桁) を入力してください。")
    presence = Presence("pin", pin=body.pin) if body.method == "pin" else Presence("visual")
    return run_check(kiosk, kiosk.current(), presence)


@router.post("/register")
def register(request: Request) -> dict[str, object]:
    """利用登録 by the holder's own PIN (kept for this visit only), then the check again on success."""
    kiosk = _kiosk(request)
    visit = kiosk.current()
    if visit.presence is None or visit.presence.method == "visual":
        raise AgentError(409, "holder_presence_needed", "利用登録にはご本人の暗証番号が必要です。")
    try:
        registration = kiosk.client.register(visit.card, visit.presence)
    except CardError as exc:
        raise from_card(exc) from None
    except ReceptionError as exc:
        raise from_service(exc) from None
    message = REGISTRATION_OUTCOMES.get(registration.status, (registration.status, ""))[0]
    answer: dict[str, object] = {"status": registration.status, "message": message}
    if registration.status in ("linked", "already_linked"):
        answer["result"] = run_check(kiosk, visit, visit.presence)
    return answer


@router.post("/consent")
def consent(body: ConsentIn, request: Request) -> dict[str, object]:
    """The patient's choice per category, for the check just made."""
    kiosk = _kiosk(request)
    visit = kiosk.current()
    if visit.result is None or not visit.result.viewing_allowed:
        raise AgentError(409, "consent_not_possible", "この確認では情報提供の同意はできません。")
    if set(body.categories) - set(kiosk.asked()):
        raise AgentError(422, "invalid_input", "この施設では確認しない項目です。")
    try:
        given: Consent = kiosk.client.give_consent(visit.result.verification_id, body.categories)
    except ReceptionError as exc:
        raise from_service(exc) from None
    return {"categories": [CATEGORY_NAMES[c][0] for c in given.categories], "expires_at": given.expires_at}


@router.post("/reset", status_code=204)
def reset(request: Request) -> None:
    """The next patient: the card, the PIN, the answer, all forgotten."""
    _kiosk(request).visit = None


@router.get("/state")
def state(request: Request) -> dict[str, bool]:
    """Whether a visit is in progress (the page's idle screen and the tests check it is not)."""
    return {"visit": _kiosk(request).visit is not None}
