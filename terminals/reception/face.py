"""The face check at the desk: the camera and facematch's matcher, made on first use (an optional install)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from terminals.reception.texts import Text
from virtualcard import CardLocked, VirtualCard

if TYPE_CHECKING:
    from facematch import CardFace, Challenge, FaceSession, FrameSource, MatchDecision


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
