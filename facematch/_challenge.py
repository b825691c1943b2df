"""The active challenge: a random sequence of prompts, with timing, that the patient follows on screen.

Every attempt draws a new challenge from the operating system's randomness: one blink and two different head
movements (turn left, turn right, look up, look down) in a random order, each shown for a random 1.3-1.9 s,
separated by random "face the camera" pauses. The client shows each prompt when its time comes
(`Challenge.prompt_at`); the patient cannot know the order or the timing in advance, so a video recorded
during an earlier attempt answers a different challenge.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from enum import StrEnum

from ._settings import ChallengeSettings
from ._texts import Bilingual


class Action(StrEnum):
    """What a prompt asks for."""

    FACE_FRONT = "face_front"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"
    LOOK_DOWN = "look_down"
    BLINK = "blink"


HEAD_MOVES = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.LOOK_UP, Action.LOOK_DOWN)

PROMPT_TEXTS: dict[Action, tuple[str, str]] = {
    Action.FACE_FRONT: ("Look straight at the camera.", "正面を向いてください。"),
    Action.TURN_LEFT: ("Turn your head to your left.", "顔を左に向けてください。"),
    Action.TURN_RIGHT: ("Turn your head to your right.", "顔を右に向けてください。"),
    Action.LOOK_UP: ("Tilt your chin up.", "顔を上に向けてください。"),
    Action.LOOK_DOWN: ("Tilt your chin down.", "顔を下に向けてください。"),
    Action.BLINK: ("Blink once.", "まばたきをしてください。"),
}


@dataclass(frozen=True, slots=True)
class Prompt(Bilingual):
    """One instruction and when it is shown, in seconds from the start of the attempt."""

    action: Action
    start: float
    end: float

    @property
    def texts(self) -> tuple[str, str]:
        """What the screen shows: (English, Japanese)."""
        return PROMPT_TEXTS[self.action]

    @property
    def is_step(self) -> bool:
        """True for a movement or a blink, False for a "face the camera" pause."""
        return self.action != Action.FACE_FRONT


@dataclass(frozen=True, slots=True)
class Challenge:
    """The prompts of one attempt, back to back from 0 to `duration`; `nonce` names the draw."""

    prompts: tuple[Prompt, ...]
    nonce: str

    @property
    def duration(self) -> float:
        """Seconds from the first prompt to the end of the last."""
        return self.prompts[-1].end

    @property
    def steps(self) -> tuple[Prompt, ...]:
        """The prompts that ask for a movement or a blink."""
        return tuple(prompt for prompt in self.prompts if prompt.is_step)

    def prompt_at(self, seconds: float) -> Prompt | None:
        """The prompt to show `seconds` after the start; None before the start and after the end."""
        for prompt in self.prompts:
            if prompt.start <= seconds < prompt.end:
                return prompt
        return None


def draw_challenge(settings: ChallengeSettings | None = None, rng: random.Random | None = None) -> Challenge:
    """A new random challenge; `rng` is for tests and evaluations (the default is the OS's randomness)."""
    settings = settings or ChallengeSettings()
    source = rng or random.SystemRandom()
    moves = source.sample(HEAD_MOVES, settings.head_moves)
    steps: list[Action] = list(moves)
    steps.insert(source.randrange(len(steps) + 1), Action.BLINK)
    prompts: list[Prompt] = []
    clock = 0.0
    pause = source.uniform(*settings.first_pause)
    prompts.append(Prompt(Action.FACE_FRONT, 0.0, round(pause, 3)))
    clock = pause
    for action in steps:
        length = source.uniform(*settings.step_length)
        prompts.append(Prompt(action, round(clock, 3), round(clock + length, 3)))
        clock += length
        pause = source.uniform(*settings.pause)
        prompts.append(Prompt(Action.FACE_FRONT, round(clock, 3), round(clock + pause, 3)))
        clock += pause
    nonce = secrets.token_hex(8) if rng is None else f"{source.getrandbits(64):016x}"
    return Challenge(tuple(prompts), nonce)
