from __future__ import annotations

import random

import pytest

from facematch import Action, ChallengeSettings, Prompt, draw_challenge


def test_a_challenge_is_one_blink_and_three_different_head_moves_between_pauses() -> None:
    challenge = draw_challenge(rng=random.Random(1))
    steps = [prompt.action for prompt in challenge.steps]
    assert steps.count(Action.BLINK) == 1 and len(steps) == 4 and len(set(steps)) == 4
    kinds = [prompt.is_step for prompt in challenge.prompts]
    assert kinds == [False, True, False, True, False, True, False, True, False]  # pause, step, pause, ...


def test_prompts_are_back_to_back_and_timed_within_the_settings() -> None:
    settings = ChallengeSettings()
    challenge = draw_challenge(settings, random.Random(2))
    for before, after in zip(challenge.prompts, challenge.prompts[1:], strict=False):
        assert before.end == after.start
    for step in challenge.steps:
        assert settings.step_length[0] <= step.end - step.start <= settings.step_length[1] + 0.001
    assert challenge.prompt_at(-0.1) is None and challenge.prompt_at(challenge.duration) is None
    middle = challenge.steps[1]
    assert challenge.prompt_at((middle.start + middle.end) / 2) == middle


def test_order_and_timing_change_from_draw_to_draw() -> None:
    draws = [draw_challenge() for _ in range(30)]  # the operating system's randomness
    assert len({tuple(p.action for p in c.steps) for c in draws}) > 10
    assert len({c.nonce for c in draws}) == 30 and len({c.duration for c in draws}) > 25


def test_the_same_seed_gives_the_same_challenge_for_tests() -> None:
    assert draw_challenge(rng=random.Random(7)) == draw_challenge(rng=random.Random(7))


@pytest.mark.parametrize("action", list(Action))
def test_every_action_has_a_japanese_and_an_english_text(action: Action) -> None:
    prompt = Prompt(action, 0.0, 1.0)
    assert prompt.message_ja.endswith("。") and prompt.message.endswith(".")
