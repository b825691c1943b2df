"""The reception flow: the desk (lasting parts, no patient data) and one patient's visit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from terminals.reception.client import Presence, ReceptionClient, ReceptionError
from terminals.reception.face import FaceCamera, FaceUnavailable
from terminals.reception.screen import (
    Console,
    render_access_log,
    render_consent,
    render_error,
    render_registration,
    render_result,
)
from terminals.reception.texts import (
    CATEGORIES,
    CATEGORY_NAMES,
    EXIT_FAILED,
    EXIT_NEGATIVE,
    EXIT_OK,
    METHOD_NAMES,
    METHODS,
    Method,
    Mode,
    Msg,
)
from virtualcard import CardError, CardLocked, VirtualCard, WrongPin

if TYPE_CHECKING:
    from facematch import CardFace

T = TypeVar("T")


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
