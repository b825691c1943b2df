from __future__ import annotations

import cv2
import numpy as np
import pytest

from facematch import FaceMatcher, Image, QualitySettings, Reason
from facematch._engine import Box
from facematch._quality import (
    _MODEL_LANDMARKS,
    _MODEL_POINTS,
    exposure,
    gate,
    head_pose,
    select_face,
    sharpness,
)
from facematch._types import FaceMeasures

GOOD = FaceMeasures(
    face_px=140,
    detection_score=1.3,
    sharpness=230.0,
    brightness=150.0,
    clipped_share=0.01,
    yaw=-2.0,
    pitch=3.0,
    roll=1.0,
)


def _reasons(measures: FaceMeasures, height: int = 480) -> list[Reason]:
    return [refusal.reason for refusal in gate(measures, height, QualitySettings())]


# --- the gates, on measured numbers -------------------------------------------------------------------------


def test_a_good_face_passes_every_gate() -> None:
    assert _reasons(GOOD) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"face_px": 60}, Reason.FACE_TOO_SMALL),
        ({"face_px": 450}, Reason.FACE_TOO_LARGE),
        ({"sharpness": 20.0}, Reason.BLURRY),
        ({"brightness": 30.0}, Reason.TOO_DARK),
        ({"brightness": 230.0}, Reason.TOO_BRIGHT),
        ({"clipped_share": 0.4, "brightness": 190.0}, Reason.TOO_BRIGHT),
        ({"clipped_share": 0.4, "brightness": 70.0}, Reason.TOO_DARK),
        ({"yaw": 35.0}, Reason.HEAD_TURNED),
        ({"pitch": -30.0}, Reason.HEAD_TILTED),
        ({"roll": 20.0}, Reason.HEAD_ROLLED),
    ],
)
def test_each_gate_refuses_with_its_reason(change: dict[str, float], reason: Reason) -> None:
    assert _reasons(_replace(change)) == [reason]


def _replace(change: dict[str, float]) -> FaceMeasures:
    values = {name: getattr(GOOD, name) for name in GOOD.__slots__}
    return FaceMeasures(**{**values, **change})


def test_every_refusal_tells_the_patient_what_to_do() -> None:
    refusals = gate(_replace({"face_px": 60}), 480, QualitySettings())
    assert refusals[0].message == "Move closer." and refusals[0].message_ja == "もう少し近づいてください。"


def test_no_usable_face() -> None:
    box, refusals = select_face([Box(0, 0, 100, 100, score=0.1)], QualitySettings())
    assert box is None and [r.reason for r in refusals] == [Reason.NO_FACE]


def test_several_faces_says_where_they_are() -> None:
    boxes = [Box(10, 20, 110, 120, score=1.2), Box(300, 40, 400, 140, score=0.9)]
    box, refusals = select_face(boxes, QualitySettings())
    assert box is None and refusals[0].reason == Reason.SEVERAL_FACES
    assert "2 faces" in refusals[0].detail and "x=10..110" in refusals[0].detail and "x=300..400" in refusals[0].detail


def test_a_spurious_low_score_detection_is_ignored() -> None:
    box, refusals = select_face(
        [Box(10, 20, 110, 120, score=1.5), Box(120, 330, 210, 420, score=0.1)], QualitySettings()
    )
    assert refusals == () and box is not None and box.left == 10


def test_sharpness_drops_with_blur_but_not_with_darkness() -> None:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (128, 128), dtype=np.uint8), (0, 0), 1.0)
    blurred = cv2.GaussianBlur(texture, (0, 0), 3.0)
    dark = (texture * 0.3).astype(np.uint8)
    assert sharpness(blurred) < sharpness(texture) / 4
    assert sharpness(dark) == pytest.approx(sharpness(texture), rel=0.2)


def test_exposure_measures_mean_and_clipped_share() -> None:
    grey = np.full((10, 10), 128, dtype=np.uint8)
    grey[:3] = 255
    mean, clipped = exposure(grey)
    assert clipped == pytest.approx(0.3) and mean == pytest.approx(0.7 * 128 + 0.3 * 255)


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (30, 0, 0), (0, -20, 0), (0, 0, 18), (15, 10, -8)])
def test_head_pose_recovers_a_projected_head(yaw: float, pitch: float, roll: float) -> None:
    landmarks = _projected_landmarks(yaw, pitch + 13.0, roll)  # +13: the generic head's measured bias
    measured = head_pose(landmarks, 640, 480)
    assert measured == pytest.approx((yaw, pitch, roll), abs=1.5)


def _projected_landmarks(yaw: float, pitch: float, roll: float) -> np.ndarray:
    rz, ry, rx = (np.radians(a) for a in (roll, yaw, pitch))
    r_z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    r_y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    r_x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    rotation, _ = cv2.Rodrigues(r_z @ r_y @ r_x)
    camera = np.array([[640.0, 0, 320], [0, 640, 240], [0, 0, 1]])
    projected, _ = cv2.projectPoints(_MODEL_POINTS, rotation, np.array([0, 0, 3000.0]), camera, np.zeros(4))
    landmarks = np.zeros((68, 2))
    landmarks[_MODEL_LANDMARKS] = projected.reshape(-1, 2)
    return landmarks


# --- the gates, on real images --------------------------------------------------------------------------


def _check(matcher: FaceMatcher, image: Image) -> list[Reason]:
    return [refusal.reason for refusal in matcher.check_image(image).refusals]


@pytest.mark.face
def test_astronaut_frame_passes_despite_the_spurious_second_face(matcher: FaceMatcher, frame: Image) -> None:
    report = matcher.check_image(frame)
    assert report.ok and report.measures is not None and report.measures.face_px > 120


@pytest.mark.face
def test_blank_frame_has_no_face(matcher: FaceMatcher) -> None:
    assert _check(matcher, np.full((480, 640, 3), 120, dtype=np.uint8)) == [Reason.NO_FACE]


@pytest.mark.face
def test_two_people_are_refused(matcher: FaceMatcher, frame: Image, obama: Image) -> None:
    scene = frame.copy()
    scene[80:400, 440:640] = cv2.resize(obama, (200, 320))[:, :200]
    reasons = _check(matcher, scene)
    assert reasons == [Reason.SEVERAL_FACES]


@pytest.mark.face
def test_far_away_face_is_too_small(matcher: FaceMatcher, frame: Image) -> None:
    scene = np.full_like(frame, 90)
    scene[150:390, 200:520] = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    assert _check(matcher, scene) == [Reason.FACE_TOO_SMALL]


@pytest.mark.face
def test_face_filling_the_frame_is_too_large(matcher: FaceMatcher, frame: Image) -> None:
    close = cv2.resize(frame[110:330, 250:430], (360, 440))  # the face fills the height
    assert Reason.FACE_TOO_LARGE in _check(matcher, close)


@pytest.mark.face
def test_blurred_face(matcher: FaceMatcher, frame: Image) -> None:
    assert _check(matcher, cv2.GaussianBlur(frame, (0, 0), 2.5)) == [Reason.BLURRY]


@pytest.mark.face
def test_dark_face(matcher: FaceMatcher, frame: Image) -> None:
    assert _check(matcher, (frame * 0.22).astype(np.uint8)) == [Reason.TOO_DARK]


@pytest.mark.face
def test_overexposed_face(matcher: FaceMatcher, frame: Image) -> None:
    bright = np.clip(frame.astype(np.float32) * 1.35 + 30, 0, 255).astype(np.uint8)
    assert _check(matcher, bright)[0] == Reason.TOO_BRIGHT


@pytest.mark.face
def test_rolled_head(matcher: FaceMatcher, frame: Image) -> None:
    rotation = cv2.getRotationMatrix2D((320, 200), 28, 1.0)
    assert _check(matcher, cv2.warpAffine(frame, rotation, (640, 480), borderMode=cv2.BORDER_REPLICATE)) == [
        Reason.HEAD_ROLLED
    ]


@pytest.mark.face
def test_turned_head(matcher: FaceMatcher, obama: Image) -> None:
    # Obama in the face_recognition test image 'obama2.jpg' is turned ~34°; a horizontal squeeze of one side
    # of this frontal crop gives the same landmark asymmetry.
    height, width = obama.shape[:2]
    left = cv2.resize(obama[:, : width // 2], (width // 4, height))
    turned = np.ascontiguousarray(np.concatenate([left, obama[:, width // 2 :]], axis=1))
    reasons = _check(matcher, turned)
    assert Reason.HEAD_TURNED in reasons
