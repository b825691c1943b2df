"""Real faces (scikit-image's astronaut, two MIT-licensed crops), the models, and small seeded attempts."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

from facematch import CardFace, Challenge, FaceMatcher, Image, TimedFrame, decode_image
from facematch import testing as synth
from facematch._engine import FaceEngine, get_engine

DATA = Path(__file__).parent / "data"


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
def scene(engine: FaceEngine, astronaut: Image) -> synth.Scene:
    """The astronaut as a live person in front of a 640x480 camera."""
    return synth.person(engine, astronaut)


@pytest.fixture(scope="session")
def card_photo(astronaut: Image) -> bytes:
    """The astronaut as a chip photo: 176x192 JPEG 2000, about 4.5 KB."""
    return synth.chip_photo(astronaut[20:260, 110:330])


@pytest.fixture(scope="session")
def card_face(matcher: FaceMatcher, card_photo: bytes) -> CardFace:
    return matcher.enrol(card_photo)


@pytest.fixture(scope="session")
def challenge(matcher: FaceMatcher) -> Challenge:
    return matcher.draw(random.Random(3))


@pytest.fixture(scope="session")
def live_frames(scene: synth.Scene, challenge: Challenge) -> list[TimedFrame]:
    """The astronaut answering `challenge` as a live person would."""
    return synth.live_attempt(scene, challenge, np.random.default_rng(3))


@pytest.fixture(scope="session")
def obama() -> Image:
    return decode_image((DATA / "obama.jpg").read_bytes())


@pytest.fixture(scope="session")
def biden() -> Image:
    return decode_image((DATA / "biden.jpg").read_bytes())
