"""Presentation-attack (liveness) checks over a short sequence of frames, from landmarks and pixels.

- frames: enough frames had exactly one face;
- frozen: consecutive frames are not identical (a real camera always adds noise; a replayed still does not);
- blink: the eye aspect ratio (Soukupová & Čech 2016) goes open -> closed -> open;
- motion: the face moved at all;
- parallax: the landmarks did not move as one plane (a printed photo or a screen, however it is waved,
  maps frame to frame by a homography; a head turning does not, because the nose stands out of the face).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from ._engine import Points
from ._settings import LivenessSettings
from ._types import LivenessCheck, LivenessResult

_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
# The face outline (upper jaw, brow ends, eye corners: what a blink or speech do not move) and the nose, which
# stands out of it: on a flat photo the nose follows the outline's homography, on a real head it does not.
_OUTLINE = [0, 1, 2, 3, 13, 14, 15, 16, 17, 21, 22, 26, 36, 39, 42, 45]
_NOSE = [29, 30, 31, 32, 33, 34, 35]


def assess_liveness(
    landmarks: Sequence[Points | None], grey_frames: Sequence[NDArray[np.uint8]], settings: LivenessSettings
) -> LivenessResult:
    """Run every check; `landmarks[i]` is None when frame i had no single face."""
    found = [points for points in landmarks if points is not None]
    checks = [
        LivenessCheck(
            "frames",
            len(found) >= settings.min_frames,
            float(len(found)),
            f"{len(found)} of {len(landmarks)} frames with one face",
        ),
        frozen_check(grey_frames, settings),
    ]
    if len(found) >= 2:
        checks += [
            blink_check(found, settings),
            motion_check(found, settings),
            parallax_check(found, settings),
        ]
    return LivenessResult(tuple(checks))


def eye_aspect_ratio(points: Points) -> float:
    """Mean eye aspect ratio of both eyes: about 0.3 open, under 0.2 closed."""
    return (_ear(points[_LEFT_EYE]) + _ear(points[_RIGHT_EYE])) / 2


def _ear(eye: Points) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2 * horizontal)) if horizontal > 0 else 0.0


def blink_check(sequence: Sequence[Points], settings: LivenessSettings) -> LivenessCheck:
    """Passes when the eyes are open, then closed, then open again (relative to the most open frame)."""
    ears = [eye_aspect_ratio(points) for points in sequence]
    widest = max(ears)
    closed = [i for i, ear in enumerate(ears) if ear <= settings.closed_ratio * widest]
    is_open = [ear >= settings.open_ratio * widest for ear in ears]
    passed = widest >= settings.min_open_ear and bool(closed)
    passed = passed and any(is_open[: closed[0]]) and any(is_open[closed[-1] + 1 :])
    ratio = min(ears) / widest if widest > 0 else 1.0
    detail = f"eye aspect ratio {min(ears):.3f}..{widest:.3f}"
    return LivenessCheck("blink", passed, round(ratio, 3), detail)


def motion_check(sequence: Sequence[Points], settings: LivenessSettings) -> LivenessCheck:
    """Passes when some landmark moved by at least `min_motion` inter-ocular distances."""
    first = sequence[0]
    scale = inter_ocular(first)
    largest = max(float(np.abs(points - first).max()) for points in sequence[1:]) / scale
    return LivenessCheck("motion", largest >= settings.min_motion, round(largest, 4))


def parallax_check(sequence: Sequence[Points], settings: LivenessSettings) -> LivenessCheck:
    """Passes when the nose departs from the plane-to-plane mapping (homography) of the face outline."""
    first = sequence[0]
    scale = inter_ocular(first)
    residuals = [_nose_residual(first, points) / scale for points in sequence[1:]]
    value = float(np.percentile(residuals, 80))  # a percentile, not the maximum: one jittery frame is not depth
    detail = "flat: moves like a photo or a screen" if value < settings.min_parallax else ""
    return LivenessCheck("parallax", value >= settings.min_parallax, round(value, 4), detail)


def _nose_residual(first: Points, current: Points) -> float:
    """Median distance, in pixels, between the nose and where the outline's homography puts it."""
    homography, _ = cv2.findHomography(first[_OUTLINE], current[_OUTLINE], 0)
    if homography is None:
        return 0.0
    mapped = cv2.perspectiveTransform(first[_NOSE].reshape(-1, 1, 2), homography).reshape(-1, 2)
    return float(np.median(np.linalg.norm(mapped - current[_NOSE], axis=1)))


def frozen_check(grey_frames: Sequence[NDArray[np.uint8]], settings: LivenessSettings) -> LivenessCheck:
    """Fails when too many consecutive frames are (near) identical, as a replayed still image is."""
    pairs = list(itertools.pairwise(grey_frames))
    if not pairs:
        return LivenessCheck("frozen", False, 1.0, "fewer than two frames")
    identical = sum(
        1 for a, b in pairs if a.shape == b.shape and float(cv2.absdiff(a, b).mean()) < settings.frozen_diff
    )
    share = identical / len(pairs)
    return LivenessCheck(
        "frozen",
        share <= settings.max_frozen_share,
        round(share, 3),
        f"{identical} of {len(pairs)} consecutive pairs identical",
    )


def inter_ocular(points: Points) -> float:
    """Distance between the eye centres, in pixels (at least 1)."""
    return max(1.0, float(np.linalg.norm(points[_LEFT_EYE].mean(axis=0) - points[_RIGHT_EYE].mean(axis=0))))
