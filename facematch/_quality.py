"""Quality gates: one usable face, its size, sharpness, exposure and pose, each with a reason on refusal."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image
from ._engine import Box, Points
from ._settings import QualitySettings
from ._types import FaceMeasures, Reason, Refusal

_CROP_SIDE = 128  # sharpness is measured at one scale so that its threshold does not depend on face size

# A generic head (millimetre-like units), camera axes: x right, y down, z away from the camera.
_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 330.0, 65.0),  # 8 chin
        (-225.0, -170.0, 135.0),  # 36 outer corner of the eye on the image's left
        (225.0, -170.0, 135.0),  # 45 outer corner of the other eye
        (-150.0, 150.0, 125.0),  # 48 mouth corner, image left
        (150.0, 150.0, 125.0),  # 54 mouth corner, image right
    ],
    dtype=np.float64,
)
_MODEL_LANDMARKS = [30, 8, 36, 45, 48, 54]
# The generic head reads frontal faces (obama.jpg, biden.jpg, Tom Hanks) as ~13° chin-up: remove that bias.
_PITCH_BIAS = 13.0


def select_face(boxes: list[Box], settings: QualitySettings) -> tuple[Box | None, tuple[Refusal, ...]]:
    """The one usable face, or the refusal saying there is none or several (and where they are)."""
    usable = [box for box in boxes if box.score >= settings.min_detection_score]
    if not usable:
        return None, (Refusal(Reason.NO_FACE),)
    if len(usable) > 1:
        where = ", ".join(f"x={box.left}..{box.right} y={box.top}..{box.bottom}" for box in usable)
        return None, (Refusal(Reason.SEVERAL_FACES, f"{len(usable)} faces at {where}"),)
    return usable[0], ()


def measure_face(image: Image, box: Box, landmarks: Points) -> FaceMeasures:
    """Size, sharpness, exposure and pose of one face."""
    grey = face_crop(image, landmarks)
    brightness, clipped = exposure(grey)
    yaw, pitch, roll = head_pose(landmarks, image.shape[1], image.shape[0])
    return FaceMeasures(
        face_px=box.width,
        detection_score=round(box.score, 3),
        sharpness=round(sharpness(grey), 1),
        brightness=round(brightness, 1),
        clipped_share=round(clipped, 3),
        yaw=round(yaw, 1),
        pitch=round(pitch, 1),
        roll=round(roll, 1),
    )


def gate(measures: FaceMeasures, image_height: int, settings: QualitySettings) -> tuple[Refusal, ...]:
    """Every gate that `measures` fails, most actionable first."""
    checks = [
        (measures.face_px < settings.min_face_px, Reason.FACE_TOO_SMALL, f"{measures.face_px}px"),
        (
            measures.face_px > settings.max_face_fraction * image_height,
            Reason.FACE_TOO_LARGE,
            f"{measures.face_px}px",
        ),
        (measures.brightness < settings.min_brightness, Reason.TOO_DARK, f"mean {measures.brightness}"),
        (measures.brightness > settings.max_brightness, Reason.TOO_BRIGHT, f"mean {measures.brightness}"),
        (
            measures.clipped_share > settings.max_clipped_share,
            _clip_reason(measures),
            f"{measures.clipped_share}",
        ),
        (abs(measures.yaw) > settings.max_yaw, Reason.HEAD_TURNED, f"yaw {measures.yaw}°"),
        (abs(measures.pitch) > settings.max_pitch, Reason.HEAD_TILTED, f"pitch {measures.pitch}°"),
        (abs(measures.roll) > settings.max_roll, Reason.HEAD_ROLLED, f"roll {measures.roll}°"),
        (measures.sharpness < settings.min_sharpness, Reason.BLURRY, f"sharpness {measures.sharpness}"),
    ]
    refusals: list[Refusal] = []
    for failed, reason, detail in checks:
        if failed and all(r.reason != reason for r in refusals):
            refusals.append(Refusal(reason, detail))
    return tuple(refusals)


def _clip_reason(measures: FaceMeasures) -> Reason:
    return Reason.TOO_BRIGHT if measures.brightness >= 128 else Reason.TOO_DARK


def face_crop(image: Image, landmarks: Points) -> NDArray[np.uint8]:
    """The inner face (brows to chin, between the jaw points) as a 128x128 grey image."""
    x0, y0 = np.floor(landmarks.min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks.max(axis=0)).astype(int)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return np.zeros((_CROP_SIDE, _CROP_SIDE), dtype=np.uint8)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.resize(grey, (_CROP_SIDE, _CROP_SIDE), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def sharpness(grey: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the contrast-normalised crop: low when blurred (motion or focus)."""
    values = grey.astype(np.float64)
    spread = float(values.std())
    if spread < 1.0:
        return 0.0
    # Normalised to a standard deviation of 50 grey levels: a dark face is not a blurred one.
    normalised = (values - values.mean()) * (50.0 / spread)
    return float(cv2.Laplacian(normalised, cv2.CV_64F).var())


def exposure(grey: NDArray[np.uint8]) -> tuple[float, float]:
    """Mean grey level and the share of clipped (<=5 or >=250) pixels."""
    clipped = np.count_nonzero((grey <= 5) | (grey >= 250)) / grey.size
    return float(grey.mean()), float(clipped)


def head_pose(landmarks: Points, image_width: int, image_height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from six landmarks and a generic head; 0 is facing the camera."""
    image_points = landmarks[_MODEL_LANDMARKS].astype(np.float64)
    focal = float(max(image_width, image_height))
    camera = np.array([[focal, 0, image_width / 2], [0, focal, image_height / 2], [0, 0, 1]], dtype=np.float64)
    # Start from "facing the camera at the distance its size implies": without a guess the solver can land on
    # the mirrored solution (a roll of ~180°).
    eye_span = max(1.0, float(np.linalg.norm(image_points[3] - image_points[2])))
    rvec = np.zeros((3, 1))
    tvec = np.array([[0.0], [0.0], [focal * 450.0 / eye_span]])
    ok, solved, _ = cv2.solvePnP(
        _MODEL_POINTS, image_points, camera, np.zeros(4), rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return 90.0, 90.0, 90.0
    rotation = np.asarray(cv2.Rodrigues(solved)[0], dtype=np.float64)
    yaw, pitch, roll = _euler_degrees(rotation)
    return yaw, pitch - _PITCH_BIAS, roll


def _euler_degrees(rotation: NDArray[np.float64]) -> tuple[float, float, float]:
    """Yaw (about y), pitch (about x), roll (about z) of R = Rz(roll) Ry(yaw) Rx(pitch)."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return yaw, pitch, roll
