"""One attempt, frame by frame: the client shows the prompts, feeds timestamped frames, gets the decision.

    session = matcher.start(card_face)            # draws a random challenge
    while not guidance.done:
        at = clock() - started                    # seconds since the first prompt was shown
        show(session.prompt_at(at))               # the prompt the patient must follow now
        guidance = session.feed(camera.read(), at) # prompt + what to fix ("マスクを外してください")
    decision = session.finish()                   # verdict, distance, liveness checks, refusals

Frames are analysed at most `analysis_fps` times a second (the face mesh follows the face; detection only
when it is lost); only the most frontal usable frame of the "face the camera" pauses is kept, and only it is
encoded, once, in `finish`. Nothing else of the frames is kept.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from ._challenge import Action, Challenge, Prompt
from ._decode import Image
from ._engine import FaceTracker
from ._geometry import Landmarks, measure
from ._liveness import Observation, judge, screen_score
from ._quality import face_crop, gate, measure_face
from ._types import Guidance, LivenessResult, MatchDecision, QualityReport, Reason, Refusal

if TYPE_CHECKING:
    from ._matcher import CardFace, FaceMatcher

_GREY_SIDE = 96  # frames are compared for identity (frozen check) at this size
_SCREEN_EVERY = 4  # the moiré score is measured on every fourth analysed frame
_GATES_EVERY = 2  # the quality gates run on every second frame of a pause


@dataclass(slots=True)
class _Candidate:
    """The best frame so far for the match: usable, the most frontal."""

    image: Image
    landmarks: Landmarks
    report: QualityReport


class FaceSession:
    """One attempt against one card face: a challenge, the frames' observations, then the decision."""

    def __init__(self, matcher: FaceMatcher, card: CardFace, challenge: Challenge) -> None:
        self.challenge = challenge
        self._matcher = matcher
        self._card = card
        self._trackers: dict[bool, FaceTracker] = {}
        self._observations: list[Observation] = []
        self._greys: list[NDArray[np.uint8]] = []
        self._problems: Counter[Reason] = Counter()
        self._last_problem: dict[Reason, Refusal] = {}
        self._candidate: _Candidate | None = None
        self._last_at = -1e9
        self._cpu = 0.0
        self._fed = 0
        self._pause_frames = 0
        self._out_of_order = 0
        self._finished: MatchDecision | None = None

    def prompt_at(self, at: float) -> Prompt | None:
        """The prompt to show `at` seconds after the start (None once the challenge is over)."""
        return self.challenge.prompt_at(at)

    def done(self, at: float) -> bool:
        """True once the challenge is over: call `finish`."""
        return at >= self.challenge.duration

    def feed(self, frame: Image, at: float) -> Guidance:
        """Analyse one camera frame taken `at` seconds after the start; returns what to show now."""
        prompt = self.challenge.prompt_at(at)
        self._fed += 1
        if at <= self._last_at:
            self._out_of_order += 1
            return Guidance(prompt, None, self.done(at))
        liveness = self._matcher.settings.liveness
        rate = liveness.analysis_fps if prompt is not None and prompt.is_step else liveness.pause_fps
        if self._eyes_matter(at):
            rate = liveness.blink_fps
        if at - self._last_at < 0.9 / rate or at < 0:
            return Guidance(prompt, None, self.done(at))
        started = time.process_time()
        try:
            problem = self._analyse(frame, at, prompt)
        finally:
            self._cpu += time.process_time() - started
        self._last_at = at
        return Guidance(prompt, problem, self.done(at))

    def _eyes_matter(self, at: float) -> bool:
        """True while a blink is asked (and just after): frames are analysed faster, with the eye model."""
        return any(p.action == Action.BLINK and p.start - 0.2 <= at < p.end + 0.5 for p in self.challenge.prompts)

    def _tracker(self, refine: bool) -> FaceTracker:
        if refine not in self._trackers:
            self._trackers[refine] = self._matcher.engine.tracker(refine=refine)
        return self._trackers[refine]

    def _analyse(self, frame: Image, at: float, prompt: Prompt | None) -> Refusal | None:
        eyes = self._eyes_matter(at)
        landmarks = self._tracker(eyes).landmarks(frame)
        self._greys.append(_small_grey(frame))
        if landmarks is None:
            self._observations.append(Observation(at, None))
            return self._note(self._matcher.no_face_or_too_small((Refusal(Reason.NO_FACE),), frame)[0])
        geometry = measure(landmarks)
        screen = None
        if len(self._observations) % _SCREEN_EVERY == 0:
            screen = screen_score(face_crop(frame, landmarks))
        self._observations.append(Observation(at, geometry, screen, eyes))
        if prompt is not None and prompt.is_step:
            return None  # during a movement the pose gates do not apply
        self._pause_frames += 1
        if self._pause_frames % _GATES_EVERY and self._candidate is not None:
            return None  # the gates run on every other pause frame once a usable frame is kept (CPU)
        measures = measure_face(frame, landmarks, geometry)
        report = QualityReport(gate(measures, frame.shape[0], self._matcher.settings.camera_quality), measures, 1)
        if report.ok:
            self._keep_if_best(frame, landmarks, report)
            return None
        return self._note(report.refusals[0])

    def _note(self, refusal: Refusal) -> Refusal:
        self._problems[refusal.reason] += 1
        self._last_problem[refusal.reason] = refusal
        return refusal

    def _keep_if_best(self, frame: Image, landmarks: Landmarks, report: QualityReport) -> None:
        """Keep the most frontal usable frame (sharper wins a tie): the encoder is least sure off-axis."""
        if self._candidate is None or _frontality(report) < _frontality(self._candidate.report):
            self._candidate = _Candidate(frame.copy(), landmarks, report)

    def finish(self) -> MatchDecision:
        """The decision for this attempt (computed once; the kept frame is dropped)."""
        if self._finished is not None:
            return self._finished
        started = time.process_time()
        try:
            self._finished = self._decide()
        finally:
            self._cpu += time.process_time() - started
            self._candidate = None
            self._greys.clear()
            for tracker in self._trackers.values():
                tracker.close()
            self._trackers.clear()
        self._finished.timings_ms["attempt_cpu_ms"] = round(self._cpu * 1000, 1)
        self._finished.timings_ms["card_cpu_ms"] = self._card.cpu_ms
        self._finished.timings_ms["frames_analysed"] = float(len(self._observations))
        return self._finished

    def _decide(self) -> MatchDecision:
        matcher, settings = self._matcher, self._matcher.settings
        liveness = judge(self.challenge, self._observations, self._greys, settings.liveness)
        guidance = self._guidance_refusal(liveness)
        if guidance is not None:
            return matcher.decision("undecided", self._card, self._camera_report(), None, liveness, (guidance,))
        if settings.require_liveness and not liveness.passed:
            refusal = _liveness_refusal(liveness)
            return matcher.decision("undecided", self._card, self._camera_report(), None, liveness, (refusal,))
        candidate = self._candidate
        assert candidate is not None
        embedding, alignment = matcher.engine.encode(candidate.image, candidate.landmarks)
        if alignment.disagreement > settings.max_fit_disagreement:
            refusal = Refusal(Reason.FACE_THE_CAMERA, f"landmark fits disagree by {alignment.disagreement:.2f}")
            return matcher.decision("undecided", self._card, candidate.report, None, liveness, (refusal,))
        distance = float(np.linalg.norm(embedding - self._card.embedding))
        outcome, refusals = matcher.classify(distance)
        return matcher.decision(outcome, self._card, candidate.report, distance, liveness, refusals)

    def _guidance_refusal(self, liveness: LivenessResult) -> Refusal | None:
        """What the patient must fix before anything can be judged (not counted), or None."""
        if self._out_of_order and self._out_of_order * 4 > self._fed:
            return Refusal(Reason.NOT_ENOUGH_FRAMES, f"{self._out_of_order} frames out of order")
        flags = liveness.flags
        if self._candidate is None or not flags.get("frames", False) or "neutral" in flags:
            return self._most_common_problem(liveness)
        return None

    def _most_common_problem(self, liveness: LivenessResult) -> Refusal:
        seen = sum(1 for o in self._observations if o.geometry is not None)
        if not self._observations:
            return Refusal(Reason.NOT_ENOUGH_FRAMES, "no frame analysed")
        problems = Counter({r: n for r, n in self._problems.items() if r != Reason.NO_FACE})
        if problems:
            return self._last_problem[problems.most_common(1)[0][0]]
        if seen < len(self._observations) * 0.8:
            return Refusal(Reason.FACE_LOST if seen else Reason.NO_FACE, _frames_detail(liveness))
        return Refusal(Reason.NOT_ENOUGH_FRAMES, _frames_detail(liveness))

    def _camera_report(self) -> QualityReport:
        if self._candidate is not None:
            return self._candidate.report
        return QualityReport(tuple(self._last_problem.values())[:1] or (Refusal(Reason.NOT_ENOUGH_FRAMES),))


def _frontality(report: QualityReport) -> float:
    measures = report.measures
    if measures is None:
        return float("inf")
    return abs(measures.yaw) + abs(measures.roll) - measures.sharpness / 200.0


def _frames_detail(liveness: LivenessResult) -> str:
    return next((check.detail for check in liveness.checks if check.name == "frames"), "")


def _liveness_refusal(liveness: LivenessResult) -> Refusal:
    """A step not followed is "follow the instructions"; a passive check failed is a suspected attack."""
    failed = [check for check in liveness.checks if not check.passed]
    detail = "; ".join(f"{check.name}: {check.detail}".rstrip(": ") for check in failed)
    passive = {"frozen", "screen", "depth"}
    if any(check.name in passive for check in failed):
        return Refusal(Reason.LIVENESS_FAILED, detail)
    return Refusal(Reason.PROMPT_NOT_FOLLOWED, detail)


def _small_grey(frame: Image) -> NDArray[np.uint8]:
    """The frame at about 96 px, grey: every n-th pixel (no filtering: identical frames stay identical)."""
    step = max(1, max(frame.shape[:2]) // _GREY_SIDE)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(frame[::step, ::step]), cv2.COLOR_RGB2GRAY), dtype=np.uint8)
