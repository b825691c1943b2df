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
# Points that a blink, a smile or speech do not move: upper jaw, nose, eye corners.
_RIGID = [0, 1, 2, 3, 13, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]


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
    """Passes when the eyes are open, then closed, then open again."""
    ears = [eye_aspect_ratio(points) for points in sequence]
    closed = [i for i, ear in enumerate(ears) if ear <= settings.ear_closed]
    opened_before = bool(closed) and any(ear >= settings.ear_open for ear in ears[: closed[0]])
    opened_after = bool(closed) and any(ear >= settings.ear_open for ear in ears[closed[-1] + 1 :])
    detail = f"eye aspect ratio {min(ears):.3f}..{max(ears):.3f}"
    return LivenessCheck("blink", opened_before and opened_after, round(min(ears), 3), detail)


def motion_check(sequence: Sequence[Points], settings: LivenessSettings) -> LivenessCheck:
    """Passes when some landmark moved by at least `min_motion` inter-ocular distances."""
    first = sequence[0]
    scale = inter_ocular(first)
    largest = max(float(np.abs(points - first).max()) for points in sequence[1:]) / scale
    return LivenessCheck("motion", largest >= settings.min_motion, round(largest, 4))


def parallax_check(sequence: Sequence[Points], settings: LivenessSettings) -> LivenessCheck:
    """Passes when the rigid landmarks depart from the best plane-to-plane mapping (a homography)."""
    first = sequence[0][_RIGID]
    scale = inter_ocular(sequence[0])
    residuals = [_plane_residual(first, points[_RIGID]) / scale for points in sequence[1:]]
    largest = max(residuals)
    detail = "flat: moves like a photo or a screen" if largest < settings.min_parallax else ""
    return LivenessCheck("parallax", largest >= settings.min_parallax, round(largest, 4), detail)


def _plane_residual(source: Points, target: Points) -> float:
    """RMS distance, in pixels, between `target` and `source` mapped by the least-squares homography."""
    homography, _ = cv2.findHomography(source, target, 0)
    if homography is None:
        return 0.0
    mapped = cv2.perspectiveTransform(source.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return float(np.sqrt(((mapped - target) ** 2).sum(axis=1).mean()))


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
