"""What one frame's 478 face-mesh landmarks say: head pose from the nose's parallax, eye opening, roll.

Yaw and pitch are read from **parallax**, not fitted to a generic head: the nose tip stands about one
half-eye-span in front of the plane of the eye and mouth corners, so when a head turns by θ the nose tip moves
against those corners by about `K·tan θ` half-spans (K ≈ 0.8-1.05, measured on frontal photos from the
mesh's depth). A printed photo or a screen turned the same way keeps the nose where the corners put it (a
plane has no parallax), so it reads as "not turned" however far it is rotated. The eye-span foreshortening
(`aspect`) is measured too: a real turn shortens it by cos θ *and* moves the nose; a turned sheet only
shortens it.

Landmark indices are those of MediaPipe's face mesh (468 points, 478 with the irises).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Landmarks = NDArray[np.float64]
"""478 x 3 (or 468 x 3): x and y in image pixels, z in the same scale (smaller is nearer the camera)."""

NOSE_TIP = 1
EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L = 33, 133, 362, 263  # R/L: the person's right/left eye
MOUTH_R, MOUTH_L = 61, 291
NOSE_BOTTOM = 2
CHIN = 152
FOREHEAD = 10
UPPER_LIP, LOWER_LIP = 13, 14
# Eye contours for the eye aspect ratio (outer corner, two upper lid points, inner corner, two lower lid points).
EAR_R = (33, 160, 158, 133, 153, 144)
EAR_L = (263, 387, 385, 362, 380, 373)
EYE_RING_R = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_RING_L = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
# Skin no mask covers (the forehead) and the region a mask covers (mouth, chin, lower cheeks).
UPPER_SKIN = (151, 108, 337, 9, 69, 299, 104, 333)
LOWER_FACE = (57, 287, 17, 200, 199, 175, 18, 83, 313, 204, 424, 32, 262, 211, 431)

NOSE_DEPTH = 0.95
"""Expected nose-tip depth in front of the eye/mouth-corner plane, in half eye spans (measured 0.80-1.05)."""


@dataclass(frozen=True, slots=True)
class Geometry:
    """Pose and eye opening of one face; angles in degrees, 0 facing the camera.

    `yaw` > 0: the person turned to *their* left (the nose moves to the right of an unmirrored camera image);
    `pitch` > 0: chin up. Both are parallax readings (see the module docstring), before any per-person
    neutral offset is removed. `aspect` is eye span / eye-to-mouth height (shrinks when the head turns).
    """

    yaw: float
    pitch: float
    roll: float
    nose_x: float
    nose_y: float
    aspect: float
    ear: float
    span: float
    centre: tuple[float, float]


def measure(landmarks: Landmarks) -> Geometry:
    """The pose, eye opening and size of one face from its landmarks."""
    xy = landmarks[:, :2]
    outer_r, outer_l = xy[EYE_OUTER_R], xy[EYE_OUTER_L]
    eye_vector = outer_l - outer_r
    span = max(1.0, float(np.linalg.norm(eye_vector)))
    across = eye_vector / span
    down = np.array([-across[1], across[0]])
    corners = xy[[EYE_OUTER_R, EYE_OUTER_L, MOUTH_R, MOUTH_L]]
    middle = corners.mean(axis=0)
    eyes_mid = (outer_r + outer_l) / 2
    mouth_mid = (xy[MOUTH_R] + xy[MOUTH_L]) / 2
    height = max(1.0, float(np.dot(mouth_mid - eyes_mid, down)))
    nose = xy[NOSE_TIP] - middle
    nose_x = float(np.dot(nose, across)) / (span / 2)
    nose_y = float(np.dot(nose, down)) / (height / 2)
    return Geometry(
        yaw=math.degrees(math.atan(nose_x / NOSE_DEPTH)),
        pitch=-math.degrees(math.atan(nose_y * (height / span) / NOSE_DEPTH)),
        roll=math.degrees(math.atan2(float(eye_vector[1]), float(eye_vector[0]))),
        nose_x=nose_x,
        nose_y=nose_y,
        aspect=span / height,
        ear=eye_aspect_ratio(landmarks),
        span=span,
        centre=(float(middle[0]), float(middle[1])),
    )


def eye_aspect_ratio(landmarks: Landmarks) -> float:
    """Mean eye aspect ratio (Soukupová & Čech 2016) of both eyes: about 0.25-0.35 open, under 0.15 closed."""
    return (_ear(landmarks, EAR_R) + _ear(landmarks, EAR_L)) / 2


def _ear(landmarks: Landmarks, eye: tuple[int, ...]) -> float:
    p = landmarks[list(eye), :2]
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    horizontal = np.linalg.norm(p[0] - p[3])
    return float(vertical / (2 * horizontal)) if horizontal > 0 else 0.0


def face_box(landmarks: Landmarks) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the face oval, in pixels."""
    oval = landmarks[list(FACE_OVAL), :2]
    x0, y0 = np.floor(oval.min(axis=0)).astype(int)
    x1, y1 = np.ceil(oval.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def five_points(landmarks: Landmarks) -> NDArray[np.float64]:
    """The points dlib's 5-point model marks, in its order: eye corners (image left eye first) and nose base."""
    return landmarks[[EYE_OUTER_L, EYE_INNER_L, EYE_OUTER_R, EYE_INNER_R, NOSE_BOTTOM], :2].copy()
