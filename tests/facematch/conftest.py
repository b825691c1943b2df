"""Real faces (scikit-image's astronaut, two MIT-licensed crops) and the dlib models, loaded once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from facematch import FaceMatcher, Image, decode_image, encode_image
from facematch import testing as synth
from facematch._engine import FaceEngine, Points, get_engine, points

DATA = Path(__file__).parent / "data"
ASTRONAUT_FACE = (175, 76, 266, 167)  # left, top, right, bottom in skimage.data.astronaut()


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return get_engine()


@pytest.fixture(scope="session")
def matcher(engine: FaceEngine) -> FaceMatcher:
    return FaceMatcher(engine=engine)


@pytest.fixture(scope="session")
def astronaut() -> Image:
    return np.ascontiguousarray(skdata.astronaut())


@pytest.fixture(scope="session")
def frame(astronaut: Image) -> Image:
    """A 640x480 camera frame of the astronaut."""
    return synth.camera_frame(astronaut, face_box=ASTRONAUT_FACE)


@pytest.fixture(scope="session")
def frame_landmarks(engine: FaceEngine, frame: Image) -> Points:
    return points(engine.landmarks(frame, engine.detect(frame, longest_side=480)[0]))


@pytest.fixture(scope="session")
def card_photo(astronaut: Image) -> bytes:
    """The astronaut as a chip photo: 176x192, JPEG 2000."""
    crop = cv2.resize(astronaut[20:260, 110:330], (176, 192), interpolation=cv2.INTER_AREA)
    return encode_image(crop, ".jp2")


@pytest.fixture(scope="session")
def live_frames(frame: Image, frame_landmarks: Points) -> list[Image]:
    return synth.live_sequence(frame, frame_landmarks, np.random.default_rng(0))


@pytest.fixture(scope="session")
def obama() -> Image:
    return decode_image((DATA / "obama.jpg").read_bytes())


@pytest.fixture(scope="session")
def biden() -> Image:
    return decode_image((DATA / "biden.jpg").read_bytes())
