"""The card's face-matching lock: 10 consecutive failures, counted by the card (as the real chip does)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._challenge import Challenge
from ._exceptions import FaceLockedError
from ._matcher import CardFace, FaceMatcher, TimedFrame
from ._session import FaceSession
from ._settings import FACE_LOCK_LIMIT
from ._types import MatchDecision


class FaceCard(Protocol):
    """What facematch needs from a card (`virtualcard.VirtualCard` provides it)."""

    @property
    def face_image(self) -> bytes:
        """The face photo stored on the chip (JPEG 2000 on real cards)."""
        ...

    @property
    def face_locked(self) -> bool:
        """True once face matching is locked."""
        ...

    @property
    def face_failures(self) -> int:
        """Consecutive failed face matches so far."""
        ...

    def record_face_result(self, *, matched: bool) -> None:
        """Count a failure, or reset the count on a match."""
        ...


class FaceCounter:
    """An in-memory `FaceCard` counter, for the CLI and tests: locks after `limit` consecutive failures."""

    def __init__(self, face_image: bytes, *, limit: int = FACE_LOCK_LIMIT, failures: int = 0) -> None:
        self.face_image = face_image
        self.limit = limit
        self.face_failures = failures

    @property
    def face_locked(self) -> bool:
        """True once `limit` consecutive failures have been recorded."""
        return self.face_failures >= self.limit

    def record_face_result(self, *, matched: bool) -> None:
        """Reset on a match, count otherwise (a locked card stays locked)."""
        if self.face_locked:
            return
        self.face_failures = 0 if matched else self.face_failures + 1


def verify_card_holder(
    matcher: FaceMatcher, card: FaceCard, challenge: Challenge, frames: Sequence[TimedFrame]
) -> MatchDecision:
    """A whole attempt at once (frames recorded while `challenge` was shown), recorded on the card.

    Raises `FaceLockedError` when the card has locked face matching: the terminal must offer the PIN or the
    staff visual check. Only real failures are recorded (`MatchDecision.counts_as_failure`).
    """
    refuse_if_locked(card)
    decision = matcher.verify(card.face_image, challenge, frames)
    record_attempt(card, decision)
    return decision


def start_attempt(matcher: FaceMatcher, card: FaceCard, card_face: CardFace) -> FaceSession:
    """A frame-by-frame attempt for `card` (FaceLockedError when locked); call `record_attempt` after it."""
    refuse_if_locked(card)
    return matcher.start(card_face)


def refuse_if_locked(card: FaceCard) -> None:
    """Raise `FaceLockedError` when the card has locked face matching."""
    if card.face_locked:
        raise FaceLockedError(f"face matching locked after {card.face_failures} consecutive failures")


def record_attempt(card: FaceCard, decision: MatchDecision) -> None:
    """Reset the card's count on a match; count a real failure; leave it alone for guidance."""
    if decision.matched or decision.counts_as_failure:
        card.record_face_result(matched=decision.matched)
