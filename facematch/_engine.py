"""The models: MediaPipe's face mesh (landmarks, Apache-2.0) and dlib's 5-point aligner and ResNet encoder.

The face mesh finds faces and their 478 landmarks (irises included): pose, blinks, the mask and quality gates
all read them. Only the frame chosen for the match, and the card photo once per visit, are encoded: the
face is aligned by dlib's 5-point model (seeded with dlib's HOG box found on a crop around the mesh's face,
or a box derived from the mesh when HOG misses a turned face) and encoded by the ResNet to 128 numbers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image
from ._exceptions import ModelUnavailableError
from ._geometry import EYE_INNER_L, EYE_INNER_R, EYE_OUTER_L, EYE_OUTER_R, MOUTH_L, MOUTH_R, Landmarks, face_box
from ._models import ENCODER, LANDMARKS_5, model_path

Embedding = NDArray[np.float64]
_MESH_SIDE = 1024  # larger stills are downscaled before the mesh (it works on 192-px crops anyway)
_ENCODE_FACE_PX = 160  # the crop given to dlib's HOG detector is scaled so that the face is about this wide


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in image pixels."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left


@dataclass(frozen=True, slots=True)
class Alignment:
    """How the encoder's 5 points were found, and how far they are from the mesh's (in eye spans)."""

    source: str
    disagreement: float


class FaceTracker:
    """A face mesh that follows one face from frame to frame (detection only when the face is lost).

    One per attempt: MediaPipe graphs keep state and are not thread-safe.
    """

    def __init__(self, mesh: Any) -> None:
        self._mesh = mesh

    def landmarks(self, image: Image) -> Landmarks | None:
        """The tracked face's landmarks in this frame, or None when no face is seen."""
        faces = _run_mesh(self._mesh, image)
        return faces[0] if faces else None

    def close(self) -> None:
        """Release the graph."""
        self._mesh.close()


class FaceEngine:
    """The models, loaded once per process; an engine is used from one thread at a time."""

    def __init__(self, models: Path | None = None) -> None:
        try:
            import dlib
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ModelUnavailableError(f"face matching needs dlib and mediapipe: {exc}") from exc
        self._dlib: Any = dlib
        self._face_mesh: Any = face_mesh
        self._hog: Any = dlib.get_frontal_face_detector()
        self._aligner: Any = dlib.shape_predictor(str(model_path(LANDMARKS_5, models)))
        self._encoder: Any = dlib.face_recognition_model_v1(str(model_path(ENCODER, models)))
        self._still: Any = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=2, refine_landmarks=True, min_detection_confidence=0.5
        )
        from mediapipe.python.solutions import face_detection

        self._far: Any = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)

    def faces(self, image: Image) -> list[Landmarks]:
        """Landmarks of up to two faces in a still image (a card photo, or a frame checked on its own)."""
        scale = min(1.0, _MESH_SIDE / max(image.shape[:2]))
        small = image if scale == 1.0 else _resize(image, scale)
        found = _run_mesh(self._still, small)
        if scale != 1.0:
            found = [face / scale for face in found]
        return found

    def far_face_width(self, image: Image) -> int | None:
        """Width in pixels of a face too small for the mesh (found by the full-range detector), or None."""
        found = self._far.process(np.ascontiguousarray(image)).detections
        if not found:
            return None
        box = max(found, key=lambda d: d.score[0]).location_data.relative_bounding_box
        return int(box.width * image.shape[1])

    def tracker(self, *, refine: bool = False) -> FaceTracker:
        """A new face tracker for one attempt's frames; `refine` adds the eye and lip model (blinks), 2x the CPU."""
        mesh = self._face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=refine,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )
        return FaceTracker(mesh)

    def encode(self, image: Image, landmarks: Landmarks) -> tuple[Embedding, Alignment]:
        """The 128-d ResNet embedding of the face whose mesh landmarks are given, and how it was aligned."""
        crop, offset, scale = _encoding_crop(image, landmarks)
        shape, source = self._five_points(crop, (landmarks[:, :2] - offset) * scale)
        chip = self._dlib.get_face_chip(crop, shape, 150, 0.25)
        embedding = np.asarray(self._encoder.compute_face_descriptor(chip), dtype=np.float64)
        found = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64) / scale + offset
        return embedding, Alignment(source, _disagreement(found, landmarks))

    def _five_points(self, crop: Image, mesh_xy: NDArray[np.float64]) -> tuple[Any, str]:
        """dlib's 5 points, seeded by the HOG box that contains the mesh's eyes, else by a mesh-derived box."""
        eyes = mesh_xy[[EYE_OUTER_R, EYE_OUTER_L]].mean(axis=0)
        for rect in self._hog(crop, 0):
            if rect.left() <= eyes[0] <= rect.right() and rect.top() <= eyes[1] <= rect.bottom():
                return self._aligner(crop, rect), "hog"
        return self._aligner(crop, self._mesh_box(mesh_xy)), "mesh"

    def _mesh_box(self, mesh_xy: NDArray[np.float64]) -> Any:
        """A square box placed as dlib's HOG detector places it, from the eye and mouth corners."""
        eyes = mesh_xy[[EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L]].mean(axis=0)
        mouth = mesh_xy[[MOUTH_R, MOUTH_L]].mean(axis=0)
        size = 2.2 * float(np.linalg.norm(mouth - eyes))
        centre = eyes + 0.35 * (mouth - eyes)
        half = size / 2
        return self._dlib.rectangle(
            int(centre[0] - half), int(centre[1] - half), int(centre[0] + half), int(centre[1] + half)
        )


def _run_mesh(mesh: Any, image: Image) -> list[Landmarks]:
    height, width = image.shape[:2]
    result = mesh.process(np.ascontiguousarray(image))
    if not result.multi_face_landmarks:
        return []
    return [
        np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], dtype=np.float64)
        for face in result.multi_face_landmarks
    ]


def _resize(image: Image, scale: float) -> Image:
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation), dtype=np.uint8)


def _encoding_crop(image: Image, landmarks: Landmarks) -> tuple[Image, NDArray[np.float64], float]:
    """The face with a margin, scaled so that the face is about 160 px wide: (crop, top-left offset, scale)."""
    left, top, right, bottom = face_box(landmarks)
    width = max(1, right - left)
    margin = int(0.6 * width)
    x0, y0 = max(0, left - margin), max(0, top - margin)
    x1, y1 = min(image.shape[1], right + margin), min(image.shape[0], bottom + margin)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    scale = _ENCODE_FACE_PX / width
    if abs(scale - 1.0) > 0.05:
        crop = _resize(crop, scale)
    else:
        scale = 1.0
    return crop, np.array([x0, y0], dtype=np.float64), scale


def _disagreement(dlib_points: NDArray[np.float64], landmarks: Landmarks) -> float:
    """Largest distance between dlib's eye corners and the mesh's, in eye spans (a fit gone wrong is large)."""
    xy = landmarks[:, :2]
    span = max(1.0, float(np.linalg.norm(xy[EYE_OUTER_L] - xy[EYE_OUTER_R])))
    mesh_corners = xy[[EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L]]
    dlib_corners = dlib_points[:4]
    # dlib orders its corners differently: compare each mesh corner with the nearest dlib corner.
    distances = np.linalg.norm(mesh_corners[:, None, :] - dlib_corners[None, :, :], axis=2).min(axis=1)
    return float(distances.max() / span)


_engine: FaceEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The process-wide engine, loading the models on first use (about a second)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FaceEngine()
        return _engine
