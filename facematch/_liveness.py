"""Presentation-attack checks over one attempt: the challenge followed in time, and passive cues.

- `frames`: every prompt saw the face on enough frames (else the patient is asked to stay in view: guidance,
  not a failure).
- one check per prompted step (`1:turn_left`, `2:blink`, ...): the movement started after its prompt
  appeared (no sooner than a human reaction, no later than `reaction_max`), reached its target, did not go
  the wrong way, and the head was back facing the camera before the step began. Yaw and pitch are parallax
  readings (`_geometry`): a printed photo or a screen turned or tilted in front of the camera stays near 0°,
  however far it is rotated.
- `depth`: on frames where the face is foreshortened by a turn, the nose must have moved as a real nose does
  (parallax / foreshortening at least `min_depth_ratio`; a sheet gives ~0, a sheet bent into a cylinder
  about tan(arc/2), 0.3-0.5 for a face-sized bend).
- `frozen`: consecutive frames are not identical (a real sensor always adds noise).
- `screen`: the face shows no periodic pattern (a screen's pixel grid beating with the camera's: moiré).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ._challenge import Action, Challenge, Prompt
from ._geometry import Geometry
from ._settings import LivenessSettings
from ._types import LivenessCheck, LivenessResult

_NOISE_DEGREES = 3.0  # parallax readings within the landmarks' noise say nothing about depth
_HEAD_AXES: dict[Action, tuple[str, float]] = {
    Action.TURN_LEFT: ("yaw", 1.0),
    Action.TURN_RIGHT: ("yaw", -1.0),
    Action.LOOK_UP: ("pitch", 1.0),
    Action.LOOK_DOWN: ("pitch", -1.0),
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What was measured on one analysed frame: its time (s from the start) and the face, if one was seen."""

    at: float
    geometry: Geometry | None
    screen: float | None = None
    eye_model: bool = False  # measured with the eye model (around a blink): its corners sit a little apart


@dataclass(frozen=True, slots=True)
class Neutral:
    """The patient's own "facing the camera" pose and open-eye ratio, from the pauses."""

    yaw: float
    pitch: float
    aspect: float
    open_ear: float


def judge(
    challenge: Challenge,
    observations: Sequence[Observation],
    greys: Sequence[NDArray[np.uint8]],
    settings: LivenessSettings,
) -> LivenessResult:
    """Every check over one attempt; `greys` are the analysed frames, small and grey, in order."""
    coverage = frames_check(challenge, observations, settings)
    checks = [coverage, frozen_check(greys, settings), screen_check(observations, settings)]
    neutral = neutral_pose(challenge, observations)
    if coverage.passed and neutral is not None:
        checks += [step_check(i, step, challenge, observations, neutral, settings) for i, step in _steps(challenge)]
        checks.append(depth_check(observations, neutral, settings))
    elif coverage.passed:
        checks.append(LivenessCheck("neutral", False, 0.0, "no frame facing the camera in the pauses"))
    return LivenessResult(tuple(checks))


def _steps(challenge: Challenge) -> list[tuple[int, Prompt]]:
    return list(enumerate(challenge.steps, 1))


def frames_check(
    challenge: Challenge, observations: Sequence[Observation], settings: LivenessSettings
) -> LivenessCheck:
    """Each prompt's time saw the face on at least `min_face_share` of its analysed frames (and at least two)."""
    worst, where = 1.0, ""
    for prompt in challenge.prompts:
        during = [o for o in observations if prompt.start <= o.at < prompt.end]
        seen = sum(1 for o in during if o.geometry is not None)
        share = seen / len(during) if len(during) >= 2 else 0.0
        if share < worst:
            worst, where = share, f"{prompt.action.value} at {prompt.start:.1f}s: {seen} of {len(during)} frames"
    return LivenessCheck("frames", worst >= settings.min_face_share, round(worst, 3), where)


def neutral_pose(challenge: Challenge, observations: Sequence[Observation]) -> Neutral | None:
    """Median pose and eye opening over the pauses' second halves (turning the head widens the eyes' ratio)."""
    settled = [
        o.geometry
        for prompt in challenge.prompts
        if not prompt.is_step
        for o in observations
        if o.geometry is not None and not o.eye_model and (prompt.start + prompt.end) / 2 <= o.at < prompt.end
    ]
    if len(settled) < 3:
        return None
    return Neutral(
        yaw=float(np.median([g.yaw for g in settled])),
        pitch=float(np.median([g.pitch for g in settled])),
        aspect=float(np.median([g.aspect for g in settled])),
        open_ear=float(np.median([g.ear for g in settled])),
    )


def step_check(
    index: int,
    step: Prompt,
    challenge: Challenge,
    observations: Sequence[Observation],
    neutral: Neutral,
    settings: LivenessSettings,
) -> LivenessCheck:
    """Whether one prompted step was followed, in time; the detail says what was seen."""
    name = f"{index}:{step.action.value}"
    before = [o for o in observations if step.start - 0.5 <= o.at < step.start and o.geometry is not None]
    if before and not all(_is_neutral(o.geometry, neutral, settings) for o in before[-2:] if o.geometry):
        return LivenessCheck(name, False, 0.0, "not facing the camera when the prompt appeared")
    window = [
        o for o in observations if step.start - 0.3 <= o.at <= step.end + settings.settle and o.geometry is not None
    ]
    if step.action == Action.BLINK:
        return _blink(name, step, window, neutral, settings)
    return _head_move(name, step, window, neutral, settings)


def _is_neutral(geometry: Geometry, neutral: Neutral, settings: LivenessSettings) -> bool:
    return (
        abs(geometry.yaw - neutral.yaw) <= settings.neutral_degrees
        and abs(geometry.pitch - neutral.pitch) <= settings.neutral_degrees
    )


def _head_move(
    name: str, step: Prompt, window: Sequence[Observation], neutral: Neutral, settings: LivenessSettings
) -> LivenessCheck:
    axis, sign = _HEAD_AXES[step.action]
    target = {"yaw": settings.turn_degrees, "pitch": settings.pitch_degrees}[axis]
    if step.action == Action.LOOK_DOWN:
        target = settings.down_degrees  # the nose moves less against the corners when the chin goes down
    other = "pitch" if axis == "yaw" else "yaw"
    asked = [(o.at, sign * (getattr(o.geometry, axis) - getattr(neutral, axis))) for o in window]
    crossed = [abs(getattr(o.geometry, other) - getattr(neutral, other)) for o in window]
    if not asked:
        return LivenessCheck(name, False, 0.0, "no face during the step")
    reached = max(value for _, value in asked)
    wrong_way = min(value for _, value in asked)
    if reached < target:
        return LivenessCheck(name, False, round(reached, 1), f"reached {reached:.0f}° of {target:.0f}°")
    onset = _rise_start(asked, target, settings.onset_fraction)
    delay = onset - step.start
    if not settings.reaction_min <= delay <= settings.reaction_max:
        return LivenessCheck(name, False, round(reached, 1), f"movement started {delay:+.2f}s after the prompt")
    if wrong_way < -settings.neutral_degrees:
        return LivenessCheck(name, False, round(reached, 1), f"moved the other way ({wrong_way:.0f}°)")
    if max(crossed) > max(settings.neutral_degrees, settings.cross_fraction * reached):
        return LivenessCheck(name, False, round(reached, 1), f"{other} moved {max(crossed):.0f}° instead")
    return LivenessCheck(name, True, round(reached, 1), f"reached {reached:.0f}° {delay:.2f}s after the prompt")


def _rise_start(values: Sequence[tuple[float, float]], target: float, low: float) -> float:
    """When the movement that first reached `target` began: the first frame after the last one below `low`
    of the target (noise near the neutral pose does not start a movement)."""
    reach = next(i for i, (_, value) in enumerate(values) if value >= target)
    floor = max(low * target, _NOISE_DEGREES + 1.0)  # sway and landmark noise reach a few degrees
    start = reach
    while start > 0 and values[start - 1][1] >= floor:
        start -= 1
    return values[start][0]


def _blink(
    name: str, step: Prompt, window: Sequence[Observation], neutral: Neutral, settings: LivenessSettings
) -> LivenessCheck:
    # The open eyes are those of the blink's own window, measured with the same (eye) model as the blink:
    # the pauses' model reads eye openings differently on some faces.
    ears = [o.geometry.ear for o in window if o.geometry is not None]
    open_ear = float(np.percentile(ears, 90)) if len(ears) >= 4 else neutral.open_ear
    if open_ear < settings.min_open_ear:
        return LivenessCheck(name, False, 0.0, "eyes never seen open")
    ratios = [(o.at, o.geometry.ear / open_ear) for o in window if o.geometry is not None]
    closed_at = next(
        (at for at, ratio in ratios if ratio <= settings.blink_closed and at >= step.start + settings.reaction_min),
        None,
    )
    if closed_at is None:
        lowest = min((ratio for _, ratio in ratios), default=1.0)
        return LivenessCheck(name, False, round(lowest, 2), f"eyes never closed (lowest {lowest:.2f} of open)")
    opened_before = any(ratio >= settings.blink_open for at, ratio in ratios if at < closed_at)
    opened_after = any(ratio >= settings.blink_open for at, ratio in ratios if at > closed_at)
    delay = closed_at - step.start
    moved = max(
        max(abs(o.geometry.yaw - neutral.yaw), abs(o.geometry.pitch - neutral.pitch))
        for o in window
        if o.geometry is not None
    )
    if not (opened_before and opened_after):
        return LivenessCheck(name, False, round(delay, 2), "eyes did not open again around the blink")
    if delay > settings.reaction_max:
        return LivenessCheck(name, False, round(delay, 2), f"blink {delay:.2f}s after the prompt: too late")
    if moved > settings.neutral_degrees:
        return LivenessCheck(name, False, round(delay, 2), f"the head moved {moved:.0f}° during the blink")
    opened = [
        o.geometry.aspect
        for o in window
        if o.geometry is not None and o.geometry.ear >= settings.blink_open * open_ear
    ]
    shape = [
        o.geometry.aspect / float(np.median(opened)) for o in window if o.geometry is not None and o.at == closed_at
    ]
    if opened and shape and abs(shape[0] - 1) > settings.blink_shape:
        # A sheet tilted away shortens the eyes (a fake blink) but the whole face with them.
        return LivenessCheck(name, False, round(delay, 2), f"the face's shape changed {shape[0]:.2f}x with the eyes")
    return LivenessCheck(name, True, round(delay, 2), f"blink {delay:.2f}s after the prompt")


def depth_check(observations: Sequence[Observation], neutral: Neutral, settings: LivenessSettings) -> LivenessCheck:
    """Parallax against foreshortening on turned or tilted frames: a nose standing out of a face, not a sheet.

    A turn shortens the eye span (the face's aspect falls), a tilt shortens the eye-to-mouth height (the
    aspect rises); on a real head the nose moves with it by about the same angle, on a sheet it does not.
    """
    ratios = []
    for o in observations:
        if o.geometry is None or o.eye_model:
            continue
        change = o.geometry.aspect / neutral.aspect
        turn = math.degrees(math.acos(min(1.0, change)))
        tilt = math.degrees(math.acos(min(1.0, 1.0 / change)))
        up = o.geometry.pitch - neutral.pitch
        # Chin down reads weakly on real heads too (the nose tip drops toward the mouth corners): only turns
        # and chin-up tilts are read; a sheet tilted either way reads "up" (perspective) and is caught here.
        # Readings within the landmarks' noise (a few degrees) say nothing about depth and are left out.
        yaw = abs(o.geometry.yaw - neutral.yaw)
        for shortened, parallax in ((turn, yaw), (tilt, up)):
            if shortened >= settings.depth_min_turn and parallax >= _NOISE_DEGREES:
                ratios.append(math.tan(math.radians(parallax)) / math.tan(math.radians(shortened)))
    if not ratios:
        return LivenessCheck("depth", True, 1.0, "no frame turned far enough to read the depth")
    value = float(np.median(ratios))
    detail = f"{len(ratios)} frames" + ("" if value >= settings.min_depth_ratio else ": flat or bent sheet")
    return LivenessCheck("depth", value >= settings.min_depth_ratio, round(value, 3), detail)


def frozen_check(greys: Sequence[NDArray[np.uint8]], settings: LivenessSettings) -> LivenessCheck:
    """Fails when too many consecutive frames are (near) identical, as a replayed still image is."""
    pairs = list(itertools.pairwise(greys))
    if not pairs:
        return LivenessCheck("frozen", False, 1.0, "fewer than two frames")
    identical = sum(
        1 for a, b in pairs if a.shape == b.shape and float(cv2.absdiff(a, b).mean()) < settings.frozen_diff
    )
    share = identical / len(pairs)
    return LivenessCheck(
        "frozen", share <= settings.max_frozen_share, round(share, 3), f"{identical} of {len(pairs)} pairs identical"
    )


def screen_check(observations: Sequence[Observation], settings: LivenessSettings) -> LivenessCheck:
    """The median moiré score of the frames where it was measured stays under the screen threshold."""
    scores = [o.screen for o in observations if o.screen is not None]
    if not scores:
        return LivenessCheck("screen", True, 0.0, "not measured")
    value = float(np.median(scores))
    detail = "periodic pattern on the face: a screen" if value > settings.max_screen_score else ""
    return LivenessCheck("screen", value <= settings.max_screen_score, round(value, 2), detail)


def screen_score(grey_face: NDArray[np.uint8]) -> float:
    """How strongly one spatial frequency stands out of the face's spectrum (moiré of a screen's pixel grid).

    The 128x128 face crop is high-passed, windowed and transformed; the score is the strongest peak over the
    median of the mid-to-high band, in log units (natural faces: smooth, decreasing spectra).
    """
    values = grey_face.astype(np.float64)
    values -= cv2.GaussianBlur(values, (0, 0), 3.0)
    window = np.outer(np.hanning(values.shape[0]), np.hanning(values.shape[1]))
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(values * window)))
    size = values.shape[0]
    ys, xs = np.mgrid[0:size, 0:size] - size // 2
    radius = np.hypot(xs, ys)
    band = spectrum[(radius >= size * 0.18) & (radius <= size * 0.48)]
    if band.size == 0:
        return 0.0
    return float(np.log(band.max() / max(1e-9, float(np.median(band)))))
