"""Quality gates on one face: size, sharpness, exposure, pose and a covered lower face (a mask).

Every refusal names its reason and what to tell the patient; none of them counts toward the card's lock.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image
from ._geometry import LOWER_FACE, UPPER_SKIN, Geometry, Landmarks, face_box, measure
from ._settings import QualitySettings
from ._types import FaceMeasures, Reason, Refusal

_CROP_SIDE = 128  # sharpness is measured at one scale so that its threshold does not depend on face size


def select_face(faces: list[Landmarks]) -> tuple[Landmarks | None, tuple[Refusal, ...]]:
    """The one face, or the refusal saying there is none or several (and where they are)."""
    if not faces:
        return None, (Refusal(Reason.NO_FACE),)
    if len(faces) > 1:
        where = ", ".join("x={}..{} y={}..{}".format(*_ltrb(face)) for face in faces)
        return None, (Refusal(Reason.SEVERAL_FACES, f"{len(faces)} faces at {where}"),)
    return faces[0], ()


def _ltrb(face: Landmarks) -> tuple[int, int, int, int]:
    return face_box(face)


def measure_face(image: Image, landmarks: Landmarks, geometry: Geometry | None = None) -> FaceMeasures:
    """Size, sharpness, exposure, pose and mask score of one face."""
    pose = geometry or measure(landmarks)
    grey = face_crop(image, landmarks)
    brightness, clipped = exposure(grey)
    _, top, _, bottom = face_box(landmarks)
    return FaceMeasures(
        face_px=round(2.2 * pose.span),
        face_height=bottom - top,
        sharpness=round(sharpness(grey), 1),
        brightness=round(brightness, 1),
        clipped_share=round(clipped, 3),
        yaw=round(pose.yaw, 1),
        pitch=round(pose.pitch, 1),
        roll=round(pose.roll, 1),
        mask=round(mask_score(image, landmarks, pose.span), 2),
    )


def gate(measures: FaceMeasures, image_height: int, settings: QualitySettings) -> tuple[Refusal, ...]:
    """Every gate that `measures` fails, most actionable first (a mask before the pose it may upset)."""
    exposed = measures.brightness < settings.min_brightness or measures.brightness > settings.max_brightness
    checks = [
        # Colour cannot tell a mask on a face badly lit: the light comes first then.
        (measures.mask > settings.mask_score and not exposed, Reason.MASK, f"lower face covered ({measures.mask})"),
        (measures.face_px < settings.min_face_px, Reason.FACE_TOO_SMALL, f"{measures.face_px}px"),
        (
            measures.face_height > settings.max_face_fraction * image_height,
            Reason.FACE_TOO_LARGE,
            f"{measures.face_height}px of {image_height}",
        ),
        (abs(measures.roll) > settings.max_roll, Reason.HEAD_ROLLED, f"roll {measures.roll}°"),
        (abs(measures.yaw) > settings.max_yaw, Reason.HEAD_TURNED, f"yaw {measures.yaw}°"),
        (abs(measures.pitch) > settings.max_pitch, Reason.HEAD_TILTED, f"pitch {measures.pitch}°"),
        (measures.brightness < settings.min_brightness, Reason.TOO_DARK, f"mean {measures.brightness}"),
        (measures.brightness > settings.max_brightness, Reason.TOO_BRIGHT, f"mean {measures.brightness}"),
        (
            measures.clipped_share > settings.max_clipped_share,
            _clip_reason(measures),
            f"{measures.clipped_share}",
        ),
        (measures.sharpness < settings.min_sharpness, Reason.BLURRY, f"sharpness {measures.sharpness}"),
    ]
    refusals: list[Refusal] = []
    for failed, reason, detail in checks:
        if failed and all(r.reason != reason for r in refusals):
            refusals.append(Refusal(reason, detail))
    return tuple(refusals)


def _clip_reason(measures: FaceMeasures) -> Reason:
    return Reason.TOO_BRIGHT if measures.brightness >= 128 else Reason.TOO_DARK


def face_crop(image: Image, landmarks: Landmarks) -> NDArray[np.uint8]:
    """The face oval's bounding box as a 128x128 grey image."""
    x0, y0, x1, y1 = face_box(landmarks)
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


def mask_score(image: Image, landmarks: Landmarks, span: float) -> float:
    """How unlike skin, and how uniform, the lower face is, against the same person's forehead.

    A face mask (white, blue, black, patterned) moves the colour (YCrCb chroma) of the mouth and chin region
    away from the skin's and makes it uniform; a bare face keeps skin chroma there, with lips and shadows
    making it uneven. Lightness is left out: a fringe over the forehead, a beard or side light change it on
    bare faces. Score = chroma distance / 12 - spread / 2; bare tuning faces <= 0.3, masked >= 1.8.
    """
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    radius = max(1, int(0.05 * span))
    upper = _patch_means(ycc, landmarks, UPPER_SKIN, radius)
    lower_values = _patch_values(ycc, landmarks, LOWER_FACE, radius)
    if upper is None or len(lower_values) < len(LOWER_FACE) // 2:
        return 0.0
    lower = np.median(lower_values, axis=0)
    chroma = float(np.linalg.norm(lower[1:] - upper[1:]))
    spread = float(np.median(np.abs(lower_values[:, 1:] - lower[1:])))
    return chroma / 12.0 - spread / 2.0


def _patch_values(
    ycc: NDArray[np.float64], landmarks: Landmarks, points: tuple[int, ...], radius: int
) -> NDArray[np.float64]:
    height, width = ycc.shape[:2]
    values = []
    for index in points:
        x, y = round(landmarks[index, 0]), round(landmarks[index, 1])
        if radius <= x < width - radius and radius <= y < height - radius:
            values.append(ycc[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3).mean(axis=0))
    return np.array(values, dtype=np.float64).reshape(-1, 3)


def _patch_means(
    ycc: NDArray[np.float64], landmarks: Landmarks, points: tuple[int, ...], radius: int
) -> NDArray[np.float64] | None:
    values = _patch_values(ycc, landmarks, points, radius)
    if len(values) < len(points) // 2:
        return None
    return np.asarray(np.median(values, axis=0), dtype=np.float64)
