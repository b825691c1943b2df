"""FaceMatcher: the card photo enrolled once per visit, then attempts driven by an active challenge."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._challenge import Challenge, draw_challenge
from ._decode import Image, decode_image
from ._engine import Embedding, FaceEngine, get_engine
from ._exceptions import DecodeError
from ._quality import gate, measure_face, select_face
from ._session import FaceSession
from ._settings import MatchSettings
from ._types import Guidance, LivenessResult, MatchDecision, Outcome, QualityReport, Reason, Refusal

TimedFrame = tuple[float, Image]
"""A camera frame and when it was taken, in seconds since the challenge started."""


@dataclass(frozen=True, slots=True, eq=False)
class CardFace:
    """The card photo's quality report and, when usable, its embedding: made once per visit, dropped after."""

    report: QualityReport
    embedding: Embedding = field(repr=False, default_factory=lambda: np.zeros(0))
    cpu_ms: float = 0.0

    @property
    def usable(self) -> bool:
        """True when the card photo passed its gates and was encoded."""
        return self.report.ok and self.embedding.size > 0


class FaceMatcher:
    """Compares the card's face photo with a live, challenged camera sequence."""

    def __init__(self, settings: MatchSettings | None = None, *, engine: FaceEngine | None = None, **overrides: Any):
        """`overrides` are `MatchSettings` fields, e.g. `FaceMatcher(threshold=0.4)`."""
        self.settings = replace(settings or MatchSettings(), **overrides)
        self._engine = engine

    @property
    def engine(self) -> FaceEngine:
        """The models, loaded on first use."""
        if self._engine is None:
            self._engine = get_engine()
        return self._engine

    def enrol(self, card_photo: bytes) -> CardFace:
        """Decode, gate and encode the card photo (JPEG 2000, JPEG or PNG): once per visit."""
        started = time.process_time()
        try:
            image = decode_image(card_photo)
        except DecodeError as exc:
            return CardFace(QualityReport((Refusal(Reason.CARD_PHOTO_UNUSABLE, str(exc)),)))
        faces = self.engine.faces(image)
        face, refusals = select_face(faces)
        if face is None:
            return CardFace(QualityReport(refusals, faces_found=len(faces)))
        measures = measure_face(image, face)
        report = QualityReport(gate(measures, image.shape[0], self.settings.card_quality), measures, len(faces))
        if not report.ok:
            return CardFace(report)
        embedding, _ = self.engine.encode(image, face)
        return CardFace(report, embedding, round((time.process_time() - started) * 1000, 1))

    def check_image(self, image: Image, *, card: bool = False) -> QualityReport:
        """The quality gates alone on one still image (a card photo, or a preview frame)."""
        faces = self.engine.faces(image)
        face, refusals = select_face(faces)
        if face is None:
            return QualityReport(self.no_face_or_too_small(refusals, image), faces_found=len(faces))
        settings = self.settings.card_quality if card else self.settings.camera_quality
        measures = measure_face(image, face)
        return QualityReport(gate(measures, image.shape[0], settings), measures, len(faces))

    def no_face_or_too_small(self, refusals: tuple[Refusal, ...], image: Image) -> tuple[Refusal, ...]:
        """"Move closer" rather than "look at the camera" when a face is there but too small for the mesh."""
        if refusals and refusals[0].reason == Reason.NO_FACE:
            width = self.engine.far_face_width(image)
            if width is not None:
                return (Refusal(Reason.FACE_TOO_SMALL, f"{width}px"),)
        return refusals

    def draw(self, rng: random.Random | None = None) -> Challenge:
        """A new random challenge (`rng` only for tests and evaluations)."""
        return draw_challenge(self.settings.challenge, rng)

    def start(self, card: CardFace, challenge: Challenge | None = None) -> FaceSession:
        """A new attempt against `card`, with a freshly drawn challenge unless one is given."""
        return FaceSession(self, card, challenge or self.draw())

    def verify(self, card: CardFace | bytes, challenge: Challenge, frames: Sequence[TimedFrame]) -> MatchDecision:
        """A whole attempt at once: the frames recorded while `challenge` was shown (tests, CLI, evaluation)."""
        card_face = card if isinstance(card, CardFace) else self.enrol(card)
        if not card_face.usable:
            return self.card_unusable(card_face)
        session = self.start(card_face, challenge)
        for at, frame in frames:
            session.feed(frame, at)
        return session.finish()

    def card_unusable(self, card: CardFace) -> MatchDecision:
        """The decision when the card photo cannot be used: fall back to the PIN or staff (not counted)."""
        detail = "; ".join(r.reason.value for r in card.report.refusals)
        refusal = Refusal(Reason.CARD_PHOTO_UNUSABLE, detail)
        return self.decision("undecided", card, _not_analysed(), None, None, (refusal,))

    def classify(self, distance: float) -> tuple[Outcome, tuple[Refusal, ...]]:
        """match at or under the threshold, undecided up to threshold + margin, no_match beyond."""
        threshold = self.settings.threshold
        if distance <= threshold:
            return "match", ()
        if distance <= threshold + self.settings.undecided_margin:
            return "undecided", (Refusal(Reason.BORDERLINE_DISTANCE, f"{distance:.3f} > {threshold}"),)
        return "no_match", (Refusal(Reason.DIFFERENT_PERSON, f"{distance:.3f}"),)

    def decision(
        self,
        outcome: Outcome,
        card: CardFace,
        camera: QualityReport,
        distance: float | None,
        liveness: LivenessResult | None,
        refusals: tuple[Refusal, ...],
    ) -> MatchDecision:
        """A `MatchDecision` with this matcher's threshold."""
        return MatchDecision(
            outcome=outcome,
            distance=distance,
            threshold=self.settings.threshold,
            card_quality=card.report,
            camera_quality=camera,
            liveness=liveness,
            refusals=refusals,
        )


def _not_analysed() -> QualityReport:
    return QualityReport((Refusal(Reason.NOT_ENOUGH_FRAMES, "not analysed"),))


class AsyncFaceMatcher:
    """A `FaceMatcher` whose work runs in one worker thread, off the event loop (a browser kiosk's server).

    MediaPipe and dlib's HOG release the GIL while they work; dlib's encoder (about 60 ms of CPU, once per
    attempt and once per visit) does not.
    """

    def __init__(self, matcher: FaceMatcher | None = None) -> None:
        self.matcher = matcher or FaceMatcher()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facematch")

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def warm_up(self) -> None:
        """Load the models now rather than at the first patient."""
        await self._run(lambda: self.matcher.engine)

    async def enrol(self, card_photo: bytes) -> CardFace:
        """`FaceMatcher.enrol` in the worker."""
        result: CardFace = await self._run(self.matcher.enrol, card_photo)
        return result

    async def start(self, card: CardFace, challenge: Challenge | None = None) -> AsyncFaceSession:
        """`FaceMatcher.start` in the worker."""
        session: FaceSession = await self._run(self.matcher.start, card, challenge)
        return AsyncFaceSession(self, session)

    def close(self) -> None:
        """Stop the worker."""
        self._executor.shutdown(wait=True)


class AsyncFaceSession:
    """A `FaceSession` whose frames are analysed in the matcher's worker thread."""

    def __init__(self, owner: AsyncFaceMatcher, session: FaceSession) -> None:
        self._owner = owner
        self.session = session
        self.challenge = session.challenge

    async def feed(self, frame: Image, at: float) -> Guidance:
        """`FaceSession.feed` in the worker."""
        result: Guidance = await self._owner._run(self.session.feed, frame, at)
        return result

    async def finish(self) -> MatchDecision:
        """`FaceSession.finish` in the worker."""
        result: MatchDecision = await self._owner._run(self.session.finish)
        return result
