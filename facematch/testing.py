"""Synthetic camera sequences made from one real face photo, for tests, the evaluation and the benchmark.

They simulate what a single photo cannot show: a blink (the eye openings are painted over with the skin above
them), a small head turn (the nose moves against the face outline: non-planar, as a real head), sensor noise;
and presentation attacks: a still replayed frame by frame, a printed photo waved in front of the camera
(a plane: homographies only), a photo or video shown on a screen (moiré, glare, a plane).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ._decode import Image
from ._engine import Points


def camera_frame(photo: Image, *, width: int = 640, height: int = 480, face_box: tuple[int, int, int, int]) -> Image:
    """A width x height frame with the face of `photo` (box: left, top, right, bottom) near the centre."""
    left, top, right, bottom = face_box
    face = max(right - left, bottom - top)
    crop_w = face * width / (0.22 * width) if face * 4.5 < photo.shape[1] else photo.shape[1]
    crop_w = min(crop_w, photo.shape[1], photo.shape[0] * width / height)
    crop_h = crop_w * height / width
    cx, cy = (left + right) / 2, (top + bottom) / 2 + 0.1 * face
    x0 = int(np.clip(cx - crop_w / 2, 0, photo.shape[1] - crop_w))
    y0 = int(np.clip(cy - crop_h / 2, 0, photo.shape[0] - crop_h))
    crop = photo[y0 : y0 + int(crop_h), x0 : x0 + int(crop_w)]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))


def add_noise(frame: Image, rng: np.random.Generator, sigma: float = 2.0) -> Image:
    """Sensor noise: a real camera never gives two identical frames."""
    noisy = frame.astype(np.float32) + rng.normal(0, sigma, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def close_eyes(frame: Image, landmarks: Points, closure: float = 1.0) -> Image:
    """Shut the eyes: the eye openings are filled from the surrounding skin and a lid line is drawn.

    `closure` below 1 keeps the lower part of the opening visible (a half-closed eye).
    """
    mask = np.zeros(frame.shape[:2], dtype=np.uint8)
    for eye in (landmarks[36:42], landmarks[42:48]):
        mask |= _eye_mask(frame.shape[:2], eye, closure)
    closed = _u8(cv2.inpaint(frame, mask, 3, cv2.INPAINT_TELEA))
    for eye in (landmarks[36:42], landmarks[42:48]):
        lid = np.array([eye[0], (eye[4] + eye[5]) / 2 * closure + (eye[1] + eye[2]) / 2 * (1 - closure), eye[3]])
        curve = np.array([lid[0], (lid[0] + lid[1]) / 2 + (0, 1), lid[1] + (0, 1), (lid[1] + lid[2]) / 2, lid[2]])
        cv2.polylines(closed, [curve.astype(np.int32)], False, (55, 40, 35), 1, cv2.LINE_AA)
    return closed


def _eye_mask(shape: tuple[int, ...], eye: Points, closure: float) -> NDArray[np.uint8]:
    """The eye opening (upper share `closure` of it), grown by a few pixels to cover lashes and white."""
    width = float(np.linalg.norm(eye[3] - eye[0]))
    lower = eye[[4, 5]] * closure + eye[[2, 1]] * (1 - closure)
    polygon = np.array([eye[0], eye[1], eye[2], eye[3], lower[0], lower[1]])
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [polygon.astype(np.int32)], 255)
    grow = max(3, int(0.4 * width)) | 1
    return np.asarray(cv2.dilate(mask, np.ones((grow, grow), np.uint8)), dtype=np.uint8)


def turn_head(frame: Image, landmarks: Points, amount: float) -> Image:
    """Move the nose and its surroundings sideways against the face outline (`amount` in eye distances)."""
    map_x, map_y = _identity_maps(frame)
    eyes = np.linalg.norm(landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0))
    nose = landmarks[30]
    ys, xs = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]].astype(np.float32)
    spread = 0.55 * eyes
    bump = np.exp(-((xs - nose[0]) ** 2 + (ys - nose[1]) ** 2) / (2 * spread**2))
    map_x -= (amount * eyes * bump).astype(np.float32)
    return _u8(cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))


def move_plane(frame: Image, *, shift: tuple[float, float] = (0, 0), tilt: float = 0.0, scale: float = 1.0) -> Image:
    """The whole frame moved as one flat sheet (a photo or a screen): shift, zoom and a perspective tilt."""
    height, width = frame.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    inset = tilt * width
    cx, cy = width / 2, height / 2
    moved = np.array(
        [
            [
                cx + (x - cx) * scale + shift[0] + (inset if x == 0 else -inset) * (y / height),
                cy + (y - cy) * scale + shift[1],
            ]
            for x, y in corners
        ],
        dtype=np.float32,
    )
    homography = cv2.getPerspectiveTransform(corners, moved)
    return _u8(cv2.warpPerspective(frame, homography, (width, height), borderMode=cv2.BORDER_REPLICATE))


def screen_look(frame: Image, rng: np.random.Generator) -> Image:
    """What a camera sees of a screen: a pixel grid (moiré), a gamma shift and a glare."""
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = 1 - 0.12 * (0.5 + 0.5 * np.sin(xs * 2.1 + ys * 0.35))
    glare = 40 * np.exp(-((xs - 0.7 * width) ** 2 + (ys - 0.25 * height) ** 2) / (2 * (0.15 * width) ** 2))
    shown = 255 * (frame.astype(np.float32) / 255) ** 0.8 * grid[..., None] + glare[..., None]
    return add_noise(np.clip(shown, 0, 255).astype(np.uint8), rng)


def live_sequence(frame: Image, landmarks: Points, rng: np.random.Generator, count: int = 10) -> list[Image]:
    """A present person: sensor noise, a small head turn back and forth, one blink in the middle."""
    frames = []
    for i in range(count):
        turned = turn_head(frame, landmarks, 0.12 * np.sin(2 * np.pi * i / count))
        if i in (count // 2 - 1, count // 2):
            turned = close_eyes(turned, landmarks, 1.0)
        frames.append(add_noise(turned, rng))
    return frames


def still_replay(frame: Image, count: int = 10) -> list[Image]:
    """A still image injected as every frame."""
    return [frame.copy() for _ in range(count)]


def photo_attack(frame: Image, rng: np.random.Generator, count: int = 10) -> list[Image]:
    """A printed photo held up and moved: noise and plane motion, no blink, no parallax."""
    frames = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        moved = move_plane(frame, shift=(8 * np.sin(phase), 4 * np.cos(phase)), tilt=0.03 * np.sin(phase))
        frames.append(add_noise(moved, rng))
    return frames


def screen_replay(frames: Sequence[Image], rng: np.random.Generator) -> list[Image]:
    """Frames shown on a screen held in front of the camera, moved as a plane."""
    shown = []
    for i, frame in enumerate(frames):
        phase = 2 * np.pi * i / max(1, len(frames))
        shown.append(screen_look(move_plane(frame, shift=(5 * np.sin(phase), 0), scale=0.95), rng))
    return shown


def _u8(image: NDArray[np.generic]) -> Image:
    return np.asarray(image, dtype=np.uint8)


def _identity_maps(frame: Image) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    ys, xs = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]].astype(np.float32)
    return xs, ys


def write_live_demo(directory: Path) -> tuple[Path, bytes]:
    """A live synthetic sequence of scikit-image's astronaut as an MJPG video, and her chip photo (JPEG 2000).

    Used by the terminal's face tests and by the demo (`--presence face --camera <the video>`).
    """
    from skimage import data as skdata

    from ._decode import encode_image
    from ._engine import get_engine, points

    astronaut = _u8(np.ascontiguousarray(skdata.astronaut()))  # type: ignore[no-untyped-call]
    frame = camera_frame(astronaut, face_box=(175, 76, 266, 167))
    engine = get_engine()
    landmarks = points(engine.landmarks(frame, engine.detect(frame, longest_side=480)[0]))
    directory.mkdir(parents=True, exist_ok=True)
    video = directory / "live.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (640, 480))
    for image in live_sequence(frame, landmarks, np.random.default_rng(0)):
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    photo = cv2.resize(astronaut[20:260, 110:330], (176, 192), interpolation=cv2.INTER_AREA)
    return video, encode_image(_u8(photo), ".jp2")
