from __future__ import annotations

import cv2
import numpy as np
import pytest

from facematch import FaceMatcher, Image, LivenessSettings, Reason
from facematch import testing as synth
from facematch._engine import Points
from facematch._liveness import assess_liveness, blink_check, eye_aspect_ratio, frozen_check, parallax_check

SETTINGS = LivenessSettings()


# --- checks on landmark sequences (no dlib) -----------------------------------------------------------------


def _face(eye_opening: float = 1.0, nose_shift: float = 0.0) -> Points:
    """68 landmarks of a schematic frontal face: eyes 60 px apart, opening scaled by `eye_opening`."""
    landmarks = np.zeros((68, 2))
    landmarks[0:17] = [(200 + 120 * np.cos(a), 240 + 110 * np.sin(a)) for a in np.linspace(np.pi, 0, 17)[::-1]]
    landmarks[0:17, 1] = 240 + np.abs(landmarks[0:17, 1] - 240)
    landmarks[17:27] = [(150 + 11 * i, 180) for i in range(10)]
    landmarks[27:36] = [(200 + nose_shift, 190 + 10 * i) for i in range(9)]
    for first, centre in ((36, 170.0), (42, 230.0)):
        half = 6 * eye_opening
        landmarks[first : first + 6] = [
            (centre - 15, 200), (centre - 5, 200 - half), (centre + 5, 200 - half),
            (centre + 15, 200), (centre + 5, 200 + half), (centre - 5, 200 + half),
        ]  # fmt: skip
    landmarks[48:68] = [(180 + 2 * i, 290) for i in range(20)]
    return landmarks


def test_eye_aspect_ratio_falls_when_eyes_close() -> None:
    assert eye_aspect_ratio(_face(1.0)) == pytest.approx(0.4)
    assert eye_aspect_ratio(_face(0.2)) == pytest.approx(0.08)


@pytest.mark.parametrize(
    ("openings", "passed"),
    [
        ([1, 1, 0.2, 0.2, 1, 1], True),  # open, closed, open
        ([1, 1, 1, 1, 1, 1], False),  # never closed: a photo
        ([1, 1, 1, 0.2, 0.2, 0.2], False),  # closed and never reopened
        ([0.2, 0.2, 1, 1, 1, 1], False),  # opened but never closed after being open
        ([1, 0.95, 0.85, 0.9, 1, 1], False),  # a flicker, not a blink
    ],
)
def test_blink_needs_open_closed_open(openings: list[float], passed: bool) -> None:
    assert blink_check([_face(o) for o in openings], SETTINGS).passed is passed


def test_blink_is_relative_to_the_persons_open_eyes() -> None:
    narrow_eyes = [_face(o * 0.6) for o in (1, 1, 0.3, 1, 1)]  # open EAR 0.24: narrower eyes still blink
    assert blink_check(narrow_eyes, SETTINGS).passed


def test_parallax_flat_versus_nose_standing_out() -> None:
    flat = [_face(), _face() * 1.05 + 3, _face() * 0.97 - 2]  # the whole face scaled and shifted: a plane
    deep = [_face(), _face(nose_shift=6), _face(nose_shift=-6)]  # the nose moves against the outline
    assert not parallax_check(flat, SETTINGS).passed
    assert parallax_check(deep, SETTINGS).passed


def test_frozen_frames_fail() -> None:
    rng = np.random.default_rng(0)
    still = np.full((120, 160), 100, dtype=np.uint8)
    noisy = [np.clip(still + rng.normal(0, 2, still.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    assert frozen_check(noisy, SETTINGS).passed
    assert not frozen_check([still] * 6, SETTINGS).passed
    assert not frozen_check([still], SETTINGS).passed


def test_too_few_frames_with_a_face() -> None:
    result = assess_liveness([_face(), None, None, _face()], [np.zeros((2, 2), np.uint8)] * 4, SETTINGS)
    assert not result.passed and result.flags["frames"] is False


# --- outcomes on synthetic sequences made from the real astronaut face ---


def _liveness(matcher: FaceMatcher, card_photo: bytes, frames: list[Image]) -> dict[str, bool]:
    decision = matcher.match(card_photo, frames)
    assert decision.liveness is not None
    flags = decision.liveness.flags
    if decision.liveness.passed:
        assert decision.outcome == "match"
    elif not flags["frames"]:  # "look a little longer": not an attack, not counted toward the lock
        assert decision.outcome == "undecided" and decision.refusals[0].reason == Reason.NOT_ENOUGH_FRAMES
        assert not decision.counts_as_failure
    else:
        assert decision.outcome == "undecided" and decision.refusals[0].reason == Reason.LIVENESS_FAILED
        assert decision.counts_as_failure
    return flags


@pytest.mark.face
def test_live_sequence_passes_every_check(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    flags = _liveness(matcher, card_photo, live_frames)
    assert flags == {"frames": True, "frozen": True, "blink": True, "motion": True, "parallax": True}


@pytest.mark.face
def test_still_image_replayed_fails(matcher: FaceMatcher, card_photo: bytes, frame: Image) -> None:
    flags = _liveness(matcher, card_photo, synth.still_replay(frame, 8))
    assert flags == {"frames": True, "frozen": False, "blink": False, "motion": False, "parallax": False}


@pytest.mark.face
def test_printed_photo_waved_fails_blink_and_parallax(matcher: FaceMatcher, card_photo: bytes, frame: Image) -> None:
    flags = _liveness(matcher, card_photo, synth.photo_attack(frame, np.random.default_rng(3)))
    assert flags["motion"] and not flags["blink"] and not flags["parallax"]


@pytest.mark.face
def test_photo_with_cut_out_eyes_blinks_but_is_flat(
    matcher: FaceMatcher, card_photo: bytes, frame: Image, frame_landmarks: Points
) -> None:
    rng = np.random.default_rng(4)
    moved = synth.photo_attack(frame, rng, 8)
    blinking = [synth.close_eyes(f, frame_landmarks, 0.8) if i in (3, 4) else f for i, f in enumerate(moved)]
    flags = _liveness(matcher, card_photo, blinking)
    assert flags["blink"] and not flags["parallax"]


@pytest.mark.face
def test_too_few_frames_fails(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    flags = _liveness(matcher, card_photo, live_frames[:3])
    assert flags["frames"] is False


@pytest.mark.face
def test_face_leaving_the_frame_mid_sequence(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    empty = np.ascontiguousarray(cv2.GaussianBlur(live_frames[0], (0, 0), 25))
    flags = _liveness(matcher, card_photo, [live_frames[0], empty, empty, empty, empty, live_frames[1]])
    assert flags["frames"] is False
