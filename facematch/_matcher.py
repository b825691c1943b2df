"""FaceMatcher: the card photo against camera frames, with quality gates, liveness and the decision."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image, decode_image
from ._engine import FaceEngine, Points, get_engine, points
from ._exceptions import DecodeError
from ._liveness import assess_liveness
from ._quality import gate, measure_face, select_face
from ._settings import MatchSettings
from ._types import LivenessResult, MatchDecision, Outcome, QualityReport, Reason, Refusal

_CARD_SIDE = 400  # the card photo is resized to this longest side for detection
_LIVENESS_SIDE = 160  # frames are compared for identity at this size


@dataclass(slots=True)
class _Analysed:
    """One image after detection: its quality report and, when a single face was found, its landmarks."""

    report: QualityReport
    landmarks: Points | None = None
    shape: Any = None
    image: Image | None = None


class FaceMatcher:
    """Compares the card's face photo with camera frames; holds no image or embedding between calls."""

    def __init__(self, settings: MatchSettings | None = None, *, engine: FaceEngine | None = None, **overrides: Any):
        """`overrides` are `MatchSettings` fields, e.g. `FaceMatcher(threshold=0.45, downscale_to=480)`."""
        self.settings = replace(settings or MatchSettings(), **overrides)
        self._engine = engine

    @property
    def engine(self) -> FaceEngine:
        """The dlib models, loaded on first use."""
        if self._engine is None:
            self._engine = get_engine()
        return self._engine

    def check_image(self, image: Image, *, card: bool = False) -> QualityReport:
        """The quality gates alone, for a live preview ("move closer") or a card photo."""
        return self._analyse(image, card=card).report

    def match(self, card_photo: bytes, frames: Sequence[Image]) -> MatchDecision:
        """Decide whether the person in `frames` is the one on `card_photo` and is present."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        card = self._analyse_card(card_photo)
        timings["card_ms"] = _ms_since(started)
        if not card.report.ok:
            detail = "; ".join(r.reason.value for r in card.report.refusals)
            return self._decide(
                "undecided",
                card,
                _empty(),
                None,
                None,
                (Refusal(Reason.CARD_PHOTO_UNUSABLE, detail),),
                timings,
            )
        started = time.perf_counter()
        analysed = [self._analyse(frame, card=False) for frame in frames[: self.settings.max_frames]]
        timings["frames_ms"] = _ms_since(started)
        return self._decide_on_frames(card, frames, analysed, timings)

    def _decide_on_frames(
        self, card: _Analysed, frames: Sequence[Image], analysed: list[_Analysed], timings: dict[str, float]
    ) -> MatchDecision:
        best = _best_frame(analysed)
        if best is None:
            report = _summary_report(analysed)
            return self._decide("undecided", card, report, None, None, report.refusals, timings)
        liveness = self._liveness(frames, analysed) if self.settings.require_liveness else None
        if liveness is not None and not liveness.passed:
            refusal = _liveness_refusal(liveness)
            return self._decide("undecided", card, analysed[best].report, None, liveness, (refusal,), timings)
        started = time.perf_counter()
        distance = self._distance(card, analysed[best])
        timings["encode_ms"] = _ms_since(started)
        outcome, refusals = self.classify(distance)
        return self._decide(outcome, card, analysed[best].report, distance, liveness, refusals, timings)

    def classify(self, distance: float) -> tuple[Outcome, tuple[Refusal, ...]]:
        """match at or under the threshold, undecided up to threshold + margin, no_match beyond."""
        threshold = self.settings.threshold
        if distance <= threshold:
            return "match", ()
        if distance <= threshold + self.settings.undecided_margin:
            return "undecided", (Refusal(Reason.BORDERLINE_DISTANCE, f"{distance:.3f} > {threshold}"),)
        return "no_match", (Refusal(Reason.DIFFERENT_PERSON, f"{distance:.3f}"),)

    def _decide(
        self,
        outcome: Outcome,
        card: _Analysed,
        camera: QualityReport,
        distance: float | None,
        liveness: LivenessResult | None,
        refusals: tuple[Refusal, ...],
        timings: dict[str, float],
    ) -> MatchDecision:
        return MatchDecision(
            outcome=outcome,
            distance=distance,
            threshold=self.settings.threshold,
            card_quality=card.report,
            camera_quality=camera,
            liveness=liveness,
            refusals=refusals,
            timings_ms=timings,
        )

    def _analyse_card(self, card_photo: bytes) -> _Analysed:
        try:
            image = decode_image(card_photo)
        except DecodeError as exc:
            return _Analysed(QualityReport((Refusal(Reason.CARD_PHOTO_UNUSABLE, str(exc)),)))
        return self._analyse(image, card=True)

    def _analyse(self, image: Image, *, card: bool) -> _Analysed:
        settings = self.settings.card_quality if card else self.settings.camera_quality
        boxes = self._detect(image, card=card)
        box, refusals = select_face(boxes, settings)
        if box is None:
            return _Analysed(QualityReport(refusals, faces_found=len(boxes)))
        shape = self.engine.landmarks(image, box)
        landmarks = points(shape)
        measures = measure_face(image, box, landmarks)
        report = QualityReport(gate(measures, image.shape[0], settings), measures, faces_found=len(boxes))
        return _Analysed(report, landmarks, shape, image)

    def _detect(self, image: Image, *, card: bool) -> list[Any]:
        if not card:
            boxes = self.engine.detect(image, longest_side=self.settings.downscale_to)
            if self._usable(boxes) or self.settings.downscale_to is None:
                return boxes
            # A face too small for the downscaled copy may still be found at full size: then the patient hears
            # "move closer" rather than "look at the camera". Costs a second detection on faceless frames only.
            return self.engine.detect(image, longest_side=None)
        boxes = self.engine.detect(image, longest_side=_CARD_SIDE)
        return boxes or self.engine.detect(image, longest_side=_CARD_SIDE, upsample=1)

    def _usable(self, boxes: list[Any]) -> bool:
        return any(box.score >= self.settings.camera_quality.min_detection_score for box in boxes)

    def _liveness(self, frames: Sequence[Image], analysed: list[_Analysed]) -> LivenessResult:
        landmarks = [item.landmarks if _single_face(item) else None for item in analysed]
        greys = [_small_grey(frame) for frame in frames[: len(analysed)]]
        return assess_liveness(landmarks, greys, self.settings.liveness)

    def _distance(self, card: _Analysed, frame: _Analysed) -> float:
        assert card.image is not None and frame.image is not None
        card_embedding = self.engine.encode(card.image, card.shape)
        frame_embedding = self.engine.encode(frame.image, frame.shape)
        return float(np.linalg.norm(card_embedding - frame_embedding))


Worker = Literal["process", "thread"]


class AsyncFaceMatcher:
    """Runs matches in one worker, off the terminal's event loop.

    The default worker is a process: dlib's detector releases the GIL but its encoder does not, so in a
    thread the encoding (about 150-200 ms) would stall the event loop. "thread" suits tests and subclasses
    of `FaceMatcher` (a process worker rebuilds a plain `FaceMatcher` from the settings).
    """

    def __init__(self, matcher: FaceMatcher | None = None, *, worker: Worker = "process") -> None:
        self.matcher = matcher or FaceMatcher()
        self.worker = worker
        self._executor: Executor
        if worker == "process":
            context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facematch")

    async def warm_up(self) -> None:
        """Start the worker and load the models now rather than at the first patient."""
        loop = asyncio.get_running_loop()
        if self.worker == "process":
            await loop.run_in_executor(self._executor, _warm_worker, self.matcher.settings)
        else:
            await loop.run_in_executor(self._executor, lambda: self.matcher.engine)

    async def match(self, card_photo: bytes, frames: Sequence[Image]) -> MatchDecision:
        """`FaceMatcher.match` in the worker."""
        loop = asyncio.get_running_loop()
        if self.worker == "process":
            settings = self.matcher.settings
            return await loop.run_in_executor(self._executor, _match_in_worker, settings, card_photo, list(frames))
        return await loop.run_in_executor(self._executor, self.matcher.match, card_photo, frames)

    def close(self) -> None:
        """Stop the worker."""
        self._executor.shutdown(wait=True)


_worker_matchers: dict[MatchSettings, FaceMatcher] = {}


def _worker_matcher(settings: MatchSettings) -> FaceMatcher:
    """The worker process's matcher for `settings`, models loaded once per process."""
    if settings not in _worker_matchers:
        _worker_matchers[settings] = FaceMatcher(settings)
        _ = _worker_matchers[settings].engine
    return _worker_matchers[settings]


def _warm_worker(settings: MatchSettings) -> None:
    _worker_matcher(settings)


def _match_in_worker(settings: MatchSettings, card_photo: bytes, frames: list[Image]) -> MatchDecision:
    return _worker_matcher(settings).match(card_photo, frames)


def _liveness_refusal(liveness: LivenessResult) -> Refusal:
    """Too few usable frames is "look a little longer" (not counted); any other failure is an attack suspect."""
    failed = [check.name for check in liveness.checks if not check.passed]
    if "frames" in failed:
        return Refusal(Reason.NOT_ENOUGH_FRAMES, f"failed: {', '.join(failed)}")
    return Refusal(Reason.LIVENESS_FAILED, f"failed: {', '.join(failed)}")


def _single_face(item: _Analysed) -> bool:
    return item.landmarks is not None


def _best_frame(analysed: list[_Analysed]) -> int | None:
    """The sharpest frame that passed every gate."""
    passing = [i for i, item in enumerate(analysed) if item.report.ok and item.report.measures is not None]
    if not passing:
        return None
    return max(passing, key=lambda i: _sharpness(analysed[i]))


def _sharpness(item: _Analysed) -> float:
    return item.report.measures.sharpness if item.report.measures is not None else 0.0


def _summary_report(analysed: list[_Analysed]) -> QualityReport:
    """The refusal most frames share, so that the patient gets one instruction."""
    if not analysed:
        return QualityReport((Refusal(Reason.NOT_ENOUGH_FRAMES, "no frame"),))
    firsts = Counter(item.report.refusals[0].reason for item in analysed if item.report.refusals)
    reason = firsts.most_common(1)[0][0]
    for item in analysed:
        if item.report.refusals and item.report.refusals[0].reason == reason:
            return item.report
    return analysed[0].report  # pragma: no cover - every item had a refusal


def _empty() -> QualityReport:
    return QualityReport((Refusal(Reason.NOT_ENOUGH_FRAMES, "not analysed"),))


def _small_grey(frame: Image) -> NDArray[np.uint8]:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scale = _LIVENESS_SIDE / max(grey.shape)
    return np.asarray(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
