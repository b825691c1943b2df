from __future__ import annotations

import cv2
import numpy as np
import pytest

from facematch import FaceMatcher, Image, QualitySettings, Reason
from facematch import testing as synth
from facematch._geometry import measure
from facematch._quality import exposure, gate, select_face, sharpness
from facematch._types import FaceMeasures

GOOD = FaceMeasures(
    face_px=160, face_height=190, sharpness=230.0, brightness=150.0, clipped_share=0.01,
    yaw=-2.0, pitch=3.0, roll=1.0, mask=0.1,
)  # fmt: skip


def _reasons(measures: FaceMeasures, height: int = 480) -> list[Reason]:
    return [refusal.reason for refusal in gate(measures, height, QualitySettings())]


def _replace(**change: float) -> FaceMeasures:
    values = {name: getattr(GOOD, name) for name in GOOD.__slots__}
    return FaceMeasures(**{**values, **change})  # type: ignore[arg-type]


# --- the gates, on measured numbers -------------------------------------------------------------------------


def test_a_good_face_passes_every_gate() -> None:
    assert _reasons(GOOD) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mask": 2.0}, Reason.MASK),
        ({"face_px": 60}, Reason.FACE_TOO_SMALL),
        ({"face_height": 400}, Reason.FACE_TOO_LARGE),
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
    assert _reasons(_replace(**change)) == [reason]


def test_a_mask_is_named_before_what_it_causes() -> None:
    assert _reasons(_replace(mask=2.0, sharpness=10.0))[0] == Reason.MASK


def test_no_face_and_several_faces() -> None:
    assert select_face([])[1][0].reason == Reason.NO_FACE
    one = np.zeros((478, 3))
    one[:, 0], one[:, 1] = np.linspace(10, 110, 478), np.linspace(20, 120, 478)
    face, refusals = select_face([one, one + 300])
    assert face is None and refusals[0].reason == Reason.SEVERAL_FACES and "2 faces" in refusals[0].detail


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


# --- the gates and the pose, on real images ----------------------------------------------------------------


def _check(matcher: FaceMatcher, image: Image) -> list[Reason]:
    return [refusal.reason for refusal in matcher.check_image(image).refusals]


@pytest.fixture(scope="module")
def frame(scene: synth.Scene) -> Image:
    return synth.render(scene, synth.Pose())


@pytest.mark.face
def test_the_astronaut_frame_passes(matcher: FaceMatcher, frame: Image) -> None:
    report = matcher.check_image(frame)
    assert report.ok and report.measures is not None and report.measures.face_px > 120


@pytest.mark.face
def test_a_blank_frame_has_no_face(matcher: FaceMatcher) -> None:
    assert _check(matcher, np.full((480, 640, 3), 120, dtype=np.uint8)) == [Reason.NO_FACE]


@pytest.mark.face
def test_two_people_are_refused(matcher: FaceMatcher, frame: Image, obama: Image) -> None:
    scene = frame.copy()
    scene[60:400, 450:640] = cv2.resize(obama, (190, 340))
    assert _check(matcher, scene) == [Reason.SEVERAL_FACES]


@pytest.mark.face
def test_a_far_away_face_is_too_small(matcher: FaceMatcher, frame: Image) -> None:
    scene = np.full_like(frame, 90)
    scene[180:360, 240:480] = cv2.resize(frame, (240, 180), interpolation=cv2.INTER_AREA)
    assert _check(matcher, scene) == [Reason.FACE_TOO_SMALL]


@pytest.mark.face
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: cv2.GaussianBlur(f, (0, 0), 3.0), Reason.BLURRY),
        (lambda f: (f * 0.22).astype(np.uint8), Reason.TOO_DARK),
        (lambda f: np.clip(f.astype(np.float32) * 1.35 + 40, 0, 255).astype(np.uint8), Reason.TOO_BRIGHT),
    ],
)
def test_blur_and_exposure_are_named(matcher: FaceMatcher, frame: Image, change: object, reason: Reason) -> None:
    assert _check(matcher, change(frame))[0] == reason  # type: ignore[operator]


@pytest.mark.face
def test_a_rolled_head_is_measured_and_refused(matcher: FaceMatcher, scene: synth.Scene) -> None:
    rolled = synth.render(scene, synth.Pose(roll=35.0))
    assert _check(matcher, rolled) == [Reason.HEAD_ROLLED]


@pytest.mark.face
def test_a_mask_is_named(matcher: FaceMatcher, scene: synth.Scene) -> None:
    masked = synth.render(synth.with_mask(scene, np.random.default_rng(1)), synth.Pose())
    assert _check(matcher, masked)[0] == Reason.MASK


@pytest.mark.face
@pytest.mark.parametrize(("yaw", "pitch"), [(25.0, 0.0), (-25.0, 0.0), (0.0, 20.0)])
def test_parallax_reads_a_real_turn_and_not_a_turned_sheet(
    matcher: FaceMatcher, scene: synth.Scene, frame: Image, yaw: float, pitch: float
) -> None:
    """The sign convention (yaw > 0: the person's left, chin up > 0) and the point of parallax."""
    still = measure(matcher.engine.faces(frame)[0])
    head = measure(matcher.engine.faces(synth.render(scene, synth.Pose(yaw=yaw, pitch=pitch)))[0])
    sheet_scene = synth.sheet(frame, scene.landmarks, np.random.default_rng(0), size=0.9)
    flat = synth.render(sheet_scene, synth.Pose())
    turned = synth.render(sheet_scene, synth.Pose(yaw=1.6 * yaw, pitch=1.6 * pitch))
    sheet_still, sheet = measure(matcher.engine.faces(flat)[0]), measure(matcher.engine.faces(turned)[0])
    if yaw:
        assert np.sign(head.yaw - still.yaw) == np.sign(yaw) and abs(head.yaw - still.yaw) > 15
        assert abs(sheet.yaw - sheet_still.yaw) < 10
    else:
        assert head.pitch - still.pitch > 12 and sheet.pitch - sheet_still.pitch < 9
