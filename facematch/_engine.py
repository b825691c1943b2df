"""dlib's HOG detector, 68-point landmarks and ResNet encoder (via face_recognition_models), loaded once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image
from ._exceptions import ModelUnavailableError

Points = NDArray[np.float64]
"""Landmarks, 68 x 2 (x, y) in image pixels."""


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in image pixels."""

    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top


class FaceEngine:
    """The three dlib models; one instance per process, used from one thread at a time."""

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ModelUnavailableError(f"face matching needs dlib and face_recognition_models: {exc}") from exc
        self._dlib: Any = dlib
        self._detector: Any = dlib.get_frontal_face_detector()
        self._predictor: Any = dlib.shape_predictor(models.pose_predictor_model_location())
        self._encoder: Any = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def detect(self, image: Image, *, longest_side: int | None, upsample: int = 0) -> list[Box]:
        """Face boxes in `image` coordinates, best score first; detection runs on a resized copy."""
        scale = 1.0
        small: NDArray[Any] = image
        if longest_side is not None and max(image.shape[:2]) != longest_side:
            scale = longest_side / max(image.shape[:2])
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
        rects, scores, _ = self._detector.run(small, upsample, -0.2)
        boxes = [_scaled_box(rect, float(score), scale, image.shape) for rect, score in zip(rects, scores, strict=True)]
        return sorted(boxes, key=lambda box: box.score, reverse=True)

    def landmarks(self, image: Image, box: Box) -> Any:
        """The 68-point dlib shape of the face in `box` (opaque; see `points`)."""
        rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)
        return self._predictor(image, rect)

    def encode(self, image: Image, shape: Any) -> NDArray[np.float64]:
        """The 128-d ResNet embedding of the face whose landmarks are `shape`."""
        return np.asarray(self._encoder.compute_face_descriptor(image, shape, 0), dtype=np.float64)


def points(shape: Any) -> Points:
    """Landmarks of a dlib shape as a 68 x 2 array."""
    return np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float64)


def _scaled_box(rect: Any, score: float, scale: float, shape: tuple[int, ...]) -> Box:
    height, width = shape[:2]
    return Box(
        left=max(0, round(rect.left() / scale)),
        top=max(0, round(rect.top() / scale)),
        right=min(width, round(rect.right() / scale)),
        bottom=min(height, round(rect.bottom() / scale)),
        score=score,
    )


_engine: FaceEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The process-wide engine, loading the models on first use (about a second)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FaceEngine()
        return _engine
