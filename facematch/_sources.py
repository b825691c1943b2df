"""Where frames come from, and the loop that drives one attempt: prompts out, timestamped frames in.

    source = open_source("0")                  # a camera index, a video file, an image file, or "simulate:PHOTO"
    decision = run_attempt(session, source, on_text=print)

A live camera runs on the wall clock (the patient sees each prompt when its time comes); a video file, an image
file or a simulated patient run on their own clock, frame by frame, without waiting. A video file is a
*recording*: played against a new challenge it is a replay, and fails. `simulate:PHOTO` is a synthetic patient
made from a photo who follows the prompts (`facematch.testing`): for demos and tests only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ._challenge import Challenge, Prompt
from ._decode import Image, decode_image
from ._exceptions import FrameSourceError
from ._session import FaceSession
from ._types import MatchDecision

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".jp2", ".j2k", ".bmp"})
SIMULATE = "simulate:"


class FrameSource(Protocol):
    """A camera as an attempt sees it."""

    live: bool
    """True when frames arrive in real time (the attempt's clock is then the wall clock)."""
    fps: float
    """Frames per second of the source's own clock (for sources that are not live)."""

    def start(self, challenge: Challenge) -> None:
        """The attempt begins with this challenge (a simulated patient reads it; cameras ignore it)."""
        ...

    def frame(self, at: float) -> Image | None:
        """The frame `at` seconds after the start; None when the source has no more."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


class CaptureSource:
    """An OpenCV camera (live) or video file (its own clock, frame after frame)."""

    def __init__(self, spec: int | str) -> None:
        self._capture = cv2.VideoCapture(spec)
        if not self._capture.isOpened():
            raise FrameSourceError(f"cannot open frame source {spec!r}")
        self.live = isinstance(spec, int)
        rate = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = rate if 1.0 <= rate <= 120.0 else 10.0

    def start(self, challenge: Challenge) -> None:
        """Cameras do not know the challenge."""

    def frame(self, at: float) -> Image | None:
        """The next frame (a video's frames are taken in order, one per call)."""
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        """Release the device or file."""
        self._capture.release()


class StillSource:
    """One image file shown as every frame (a photo held still: it fails, as it should)."""

    live = False
    fps = 10.0

    def __init__(self, path: Path) -> None:
        try:
            self._image = decode_image(path.read_bytes())
        except OSError as exc:
            raise FrameSourceError(f"cannot read {path}: {exc}") from exc

    def start(self, challenge: Challenge) -> None:
        """A still does not react."""

    def frame(self, at: float) -> Image | None:
        """The same image, always."""
        return self._image

    def close(self) -> None:
        """Nothing to release."""


def open_source(spec: str | int | None) -> FrameSource:
    """A camera index ("0"), a video file, an image file, or "simulate:PHOTO" (a synthetic patient)."""
    value = "0" if spec is None else str(spec)
    if value.isdigit():
        return CaptureSource(int(value))
    if value.startswith(SIMULATE):
        from .testing import SimulatedPatient

        return SimulatedPatient.from_spec(value[len(SIMULATE) :])
    path = Path(value)
    if not path.is_file():
        raise FrameSourceError(f"no such camera, video or image: {value!r}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return StillSource(path)
    return CaptureSource(str(path))


def run_attempt(
    session: FaceSession,
    source: FrameSource,
    *,
    on_text: Callable[[Prompt | None, str, str], None],
    clock: Callable[[], float] = time.monotonic,
) -> MatchDecision:
    """Show each prompt and each problem once when it changes (`on_text(prompt, ja, en)`), feed frames until
    the challenge is over or the source runs dry, and return the decision."""
    source.start(session.challenge)
    started = clock()
    shown = ("", "")
    index = 0
    at = 0.0
    while not session.done(at):
        at = clock() - started if source.live else index / source.fps
        frame = source.frame(at)
        if frame is None:
            break
        guidance = session.feed(frame, at)
        text = (guidance.message_ja, guidance.message)
        if text != shown and text[0]:
            on_text(guidance.prompt, *text)
            shown = text
        index += 1
    return session.finish()
