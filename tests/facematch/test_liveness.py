"""The challenge and passive checks on measured pose tracks (no pixels: fast, and every rule isolated)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from facematch import Action, Challenge, LivenessSettings, Prompt, draw_challenge
from facematch import testing as synth
from facematch._liveness import Observation, frozen_check, judge, screen_score

SETTINGS = LivenessSettings()


def _judge(challenge: Challenge, track: list[tuple[float, synth.Pose]], seed: int = 0) -> dict[str, bool]:
    rng = np.random.default_rng(seed)
    greys = [rng.integers(0, 255, (8, 8), dtype=np.uint8) for _ in track]
    return judge(challenge, synth.observations(track, rng), greys, SETTINGS).flags


def _steps(flags: dict[str, bool]) -> dict[str, bool]:
    return {name: passed for name, passed in flags.items() if ":" in name}


@pytest.fixture(scope="module")
def challenge() -> Challenge:
    return draw_challenge(rng=random.Random(11))


def test_a_person_following_the_prompts_passes(challenge: Challenge) -> None:
    for seed in range(5):
        flags = _judge(challenge, synth.follow(challenge, np.random.default_rng(seed)), seed)
        assert all(flags.values()), flags


def test_a_replayed_answer_to_an_earlier_challenge_fails(challenge: Challenge) -> None:
    earlier = next(c for s in range(50) if (c := draw_challenge(rng=random.Random(s))).steps != challenge.steps)
    flags = _judge(challenge, synth.follow(earlier, np.random.default_rng(1)))
    assert not all(_steps(flags).values())


def test_a_prompt_not_followed_fails_that_step(challenge: Challenge) -> None:
    track = synth.follow(challenge, np.random.default_rng(2))
    skipped = challenge.steps[0]
    quiet = [(at, synth.Pose(closure=0.0) if skipped.start <= at <= skipped.end + 1.0 else pose) for at, pose in track]
    flags = _judge(challenge, quiet)
    assert flags[f"1:{skipped.action.value}"] is False and all(v for k, v in _steps(flags).items() if k[0] != "1")


def _one_step(action: Action) -> Challenge:
    return Challenge(
        (Prompt(Action.FACE_FRONT, 0.0, 1.2), Prompt(action, 1.2, 2.6), Prompt(Action.FACE_FRONT, 2.6, 3.6)), "t"
    )


def _turn(at_from: float, yaw: float, *, until: float = 2.8) -> list[tuple[float, synth.Pose]]:
    return [(t, synth.Pose(yaw=yaw if at_from <= t <= until else 0.0)) for t in np.arange(0, 3.6, 1 / 7)]


@pytest.mark.parametrize(
    ("started", "yaw", "passed", "why"),
    [
        (1.7, 25.0, True, "half a second after the prompt, 25°"),
        (1.0, 25.0, False, "before the prompt: anticipated (a recording)"),
        (3.0, 25.0, False, "1.8 s late"),
        (1.7, 9.0, False, "too small a turn"),
        (1.7, -25.0, False, "the other way"),
    ],
)
def test_a_turn_must_follow_its_prompt_in_time_direction_and_size(
    started: float, yaw: float, passed: bool, why: str
) -> None:
    flags = _judge(_one_step(Action.TURN_LEFT), _turn(started, yaw, until=max(2.8, started + 0.6)))
    assert flags["1:turn_left"] is passed, why


def test_a_blink_must_come_after_its_prompt_with_open_eyes_around_it() -> None:
    def blink(at: float) -> list[tuple[float, synth.Pose]]:
        return [(t, synth.Pose(closure=1.0 if at <= t <= at + 0.2 else 0.0)) for t in np.arange(0, 3.6, 1 / 12)]

    assert _judge(_one_step(Action.BLINK), blink(1.6))["1:blink"] is True
    assert _judge(_one_step(Action.BLINK), blink(0.6))["1:blink"] is False  # before the prompt
    assert _judge(_one_step(Action.BLINK), [(t, synth.Pose()) for t in np.arange(0, 3.6, 1 / 12)])["1:blink"] is False


def test_a_sheet_tipped_back_fakes_no_blink() -> None:
    """Tilting a print shortens the eyes, and the whole face with them: not a blink."""
    rng = np.random.default_rng(0)
    seen = []
    for at in np.arange(0, 3.6, 1 / 12):
        observation = synth.observations([(at, synth.Pose())], rng)[0]
        assert observation.geometry is not None
        if 1.7 <= at <= 1.9:  # the sheet tipped back by 60°: eyes and face 0.5x as tall
            geometry = replace(observation.geometry, ear=0.15, aspect=observation.geometry.aspect * 2)
            observation = Observation(at, geometry)
        seen.append(observation)
    greys = [rng.integers(0, 255, (8, 8), dtype=np.uint8) for _ in seen]
    assert judge(_one_step(Action.BLINK), seen, greys, SETTINGS).flags["1:blink"] is False


def test_depth_separates_a_head_from_a_turned_sheet() -> None:
    challenge = _one_step(Action.TURN_LEFT)
    rng = np.random.default_rng(0)
    head = synth.observations(_turn(1.7, 30.0), rng)
    sheet = [  # foreshortened by a 40° turn, but the nose stays where the corners put it (parallax 20°)
        Observation(o.at, replace(o.geometry, yaw=20.0 if o.at >= 1.7 and o.at <= 2.8 else 0.0,
                                  aspect=1.6 * np.cos(np.radians(40)) if 1.7 <= o.at <= 2.8 else 1.6))
        for o in head if o.geometry is not None
    ]  # fmt: skip
    greys = [rng.integers(0, 255, (8, 8), dtype=np.uint8) for _ in head]
    assert judge(challenge, head, greys, SETTINGS).flags["depth"] is True
    assert judge(challenge, sheet, greys, SETTINGS).flags["depth"] is False


def test_frozen_frames_fail() -> None:
    rng = np.random.default_rng(0)
    still = np.full((72, 96), 100, dtype=np.uint8)
    noisy = [np.clip(still + rng.normal(0, 2, still.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    assert frozen_check(noisy, SETTINGS).passed
    assert not frozen_check([still] * 6, SETTINGS).passed


def test_a_screen_grid_on_the_face_scores_higher_than_skin(astronaut: np.ndarray) -> None:
    import cv2

    face = cv2.resize(cv2.cvtColor(astronaut[60:190, 160:280], cv2.COLOR_RGB2GRAY), (128, 128))
    shown = synth.on_screen(cv2.cvtColor(face, cv2.COLOR_GRAY2RGB), np.random.default_rng(0), pitch_px=3.0)
    assert screen_score(cv2.cvtColor(shown, cv2.COLOR_RGB2GRAY)) > SETTINGS.max_screen_score > screen_score(face)


def test_too_few_frames_with_a_face_is_not_judged(challenge: Challenge) -> None:
    track = synth.follow(challenge, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    seen = [o if i % 3 == 0 else Observation(o.at, None) for i, o in enumerate(synth.observations(track, rng))]
    flags = judge(challenge, seen, [np.zeros((4, 4), np.uint8)] * len(seen), SETTINGS).flags
    assert flags["frames"] is False and not _steps(flags)
