"""Decoding the card photo (JPEG 2000 on real chips, also JPEG/PNG) and reading camera frames."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ._exceptions import DecodeError, FrameSourceError

Image = NDArray[np.uint8]
"""An RGB image, height x width x 3, uint8."""

_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding


def decode_image(data: bytes) -> Image:
    """Decode JPEG 2000 (jp2/j2k), JPEG or PNG bytes to an RGB image."""
    if not data:
        raise DecodeError("empty image")
    buffer = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        return _decode_with_pillow(data)
    if bgr.shape[0] * bgr.shape[1] > _MAX_PIXELS:
        raise DecodeError("image too large")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _decode_with_pillow(data: bytes) -> Image:
    """Fallback for what this OpenCV build cannot read."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as pil:
            if pil.width * pil.height > _MAX_PIXELS:
                raise DecodeError("image too large")
            return np.asarray(pil.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as exc:
        raise DecodeError(f"cannot decode image: {exc}") from exc


def encode_image(image: Image, fmt: str = ".jp2", quality: int | None = None) -> bytes:
    """Encode an RGB image (".jp2", ".jpg" or ".png"); used to make card photos in tests and the CLI."""
    params: list[int] = []
    if quality is not None and fmt == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif quality is not None and fmt == ".jp2":
        params = [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, quality]
    ok, buffer = cv2.imencode(fmt, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise DecodeError(f"cannot encode {fmt}")
    return bytes(buffer.tobytes())


def read_frames(source: str | int | Path | list[Path], *, max_frames: int = 15, stride: int = 1) -> list[Image]:
    """Frames from image files (a list), a video file, or a camera device index, as RGB images."""
    if isinstance(source, list):
        return [decode_image(Path(path).read_bytes()) for path in source[:max_frames]]
    capture = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    try:
        if not capture.isOpened():
            raise FrameSourceError(f"cannot open frame source {source!r}")
        frames = _grab(capture, max_frames=max_frames, stride=stride)
    finally:
        capture.release()
    if not frames:
        raise FrameSourceError(f"no frame from {source!r}")
    return frames


def _grab(capture: cv2.VideoCapture, *, max_frames: int, stride: int) -> list[Image]:
    frames: list[Image] = []
    index = 0
    while len(frames) < max_frames:
        ok, bgr = capture.read()
        if not ok or bgr is None:
            break
        if index % stride == 0:
            frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        index += 1
    return frames
