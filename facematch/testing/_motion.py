"""Motion: how a person (or a held object) follows the prompts, and the camera that films it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from .._challenge import Action, Challenge, Prompt
from .._decode import Image
from .._geometry import Geometry
from .._liveness import Observation
from ._scenes import FRAME_H, FRAME_W, Pose, Scene, person, render, u8

# --- motion ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mover:
    """How someone (or something held) moves: amplitudes in degrees, reaction times in seconds."""

    turn: tuple[float, float] = (18.0, 32.0)
    tilt: tuple[float, float] = (14.0, 24.0)
    reaction: tuple[float, float] = (0.25, 0.7)
    move_time: tuple[float, float] = (0.3, 0.55)
    blinks: bool = True  # can close the eyes when asked
    sway: float = 1.2  # degrees of natural sway
    spontaneous_blinks: float = 12.0  # per minute


LIVE = Mover()
HELD_SHEET = Mover(turn=(25.0, 50.0), tilt=(20.0, 45.0), reaction=(0.3, 0.9), blinks=False, sway=0.8,
                   spontaneous_blinks=0.0)  # fmt: skip


def _min_jerk(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u**3 * (10 - 15 * u + 6 * u * u)


def follow(
    challenge: Challenge, rng: np.random.Generator, mover: Mover = LIVE, *, fps: float = 7.0
) -> list[tuple[float, Pose]]:
    """A timed pose track that answers `challenge` as `mover` would: reaction, smooth movement, hold, return."""
    times = frame_times(challenge, rng, fps=fps)
    segments = [_segment(step.action, step.start, step.end, rng, mover) for step in challenge.steps]
    blinks = _spontaneous(challenge.duration, rng, mover)
    offset = (rng.uniform(-4, 4), rng.uniform(-4, 4))
    sway = _sway(times, rng, mover.sway)
    track = []
    for i, at in enumerate(times):
        yaw, pitch, closure = offset[0] + sway[i, 0], offset[1] + sway[i, 1], 0.0
        for action, amplitude, begin, reach, leave, back in segments:
            level = _min_jerk((at - begin) / max(1e-3, reach - begin)) - _min_jerk(
                (at - leave) / max(1e-3, back - leave)
            )
            if action == Action.BLINK:
                closure = max(closure, level)
            elif action in (Action.TURN_LEFT, Action.TURN_RIGHT):
                yaw += amplitude * level
                pitch += 0.12 * abs(amplitude) * level * sway[i, 3]
            else:
                pitch += amplitude * level
        for begin, end in blinks:
            closure = max(closure, _min_jerk((at - begin) / 0.07) - _min_jerk((at - end) / 0.1))
        if not mover.blinks:
            closure = 0.0
        track.append((at, Pose(yaw, pitch, sway[i, 2], dx=sway[i, 4], dy=sway[i, 5], closure=closure)))
    return track


def frame_times(challenge: Challenge, rng: np.random.Generator, *, fps: float = 7.0) -> list[float]:
    """When the session will look at a frame: `fps` a second in movements, 6 in pauses, 11 around a blink (the
    frames of a 30-fps camera that the session analyses; rendering only those keeps the evaluation affordable)."""
    times, at = [], 0.0
    end = challenge.duration + 0.3
    blinks = [p for p in challenge.prompts if p.action == Action.BLINK]
    while at < end:
        times.append(max(0.0, at + float(rng.normal(0, 0.003))))
        near_blink = any(p.start - 0.2 <= at < p.end + 0.5 for p in blinks)
        prompt = challenge.prompt_at(at)
        at += 1 / 11 if near_blink else 1 / fps if prompt is None or prompt.is_step else 1 / 6
    return times


def _segment(
    action: Action, start: float, end: float, rng: np.random.Generator, mover: Mover
) -> tuple[Action, float, float, float, float, float]:
    begin = start + rng.uniform(*mover.reaction)
    if action == Action.BLINK:
        reach = begin + rng.uniform(0.08, 0.13)
        leave = reach + rng.uniform(0.05, 0.15)
        return action, 1.0, begin, reach, leave, leave + rng.uniform(0.12, 0.2)
    amplitude = rng.uniform(*(mover.turn if action in (Action.TURN_LEFT, Action.TURN_RIGHT) else mover.tilt))
    sign = 1.0 if action in (Action.TURN_LEFT, Action.LOOK_UP) else -1.0
    reach = begin + rng.uniform(*mover.move_time)
    leave = max(reach + 0.2, end + rng.uniform(-0.2, 0.25))
    return action, sign * amplitude, begin, reach, leave, leave + rng.uniform(*mover.move_time)


def _spontaneous(duration: float, rng: np.random.Generator, mover: Mover) -> list[tuple[float, float]]:
    count = rng.poisson(mover.spontaneous_blinks * duration / 60)
    starts = sorted(rng.uniform(0, duration, count))
    return [(float(s), float(s) + rng.uniform(0.1, 0.18)) for s in starts]


def _sway(times: Sequence[float], rng: np.random.Generator, amount: float) -> NDArray[np.float64]:
    """Slow random drift: yaw, pitch, roll (degrees), a cross-talk factor, dx, dy (pixels)."""
    knots = max(2, int(times[-1] / 0.8) + 2)
    values = rng.normal(0, 1, (knots, 6)) * [amount, amount, amount, 1.0, 3.0 * amount, 2.0 * amount]
    positions = np.linspace(0, times[-1] + 1e-3, knots)
    return np.stack([np.interp(times, positions, values[:, j]) for j in range(6)], axis=1)


def wander(duration: float, rng: np.random.Generator, *, fps: float = 7.0) -> list[tuple[float, Pose]]:
    """Someone filmed going about their business: head movements and a blink at random, no prompt followed."""
    actions = [Action.TURN_LEFT, Action.TURN_RIGHT, Action.LOOK_UP, Action.LOOK_DOWN, Action.BLINK]
    starts = np.sort(rng.uniform(0, duration, 4))
    prompts = tuple(
        Prompt(actions[int(rng.integers(len(actions)))], float(start), float(start) + rng.uniform(1.0, 1.8))
        for start in starts
    )
    prompts += (Prompt(Action.FACE_FRONT, prompts[-1].end, max(duration, prompts[-1].end)),)
    track = follow(Challenge(prompts, "wander"), rng, fps=fps)
    return [(at, pose) for at, pose in track if at <= duration]


def observations(track: Sequence[tuple[float, Pose]], rng: np.random.Generator) -> list[Observation]:
    """What the session would measure on a pose track, without pixels: parallax readings with 1.5° of noise
    (chin-down reads 0.6x, as measured on rendered heads), eye opening, foreshortening. For fast tests of the
    timing rules and for simulating many replays."""
    seen = []
    for at, pose in track:
        pitch = pose.pitch if pose.pitch >= 0 else 0.6 * pose.pitch
        aspect = 1.6 * math.cos(math.radians(pose.yaw)) / max(0.3, math.cos(math.radians(pose.pitch)))
        geometry = Geometry(
            yaw=pose.yaw + float(rng.normal(0, 1.5)),
            pitch=pitch + float(rng.normal(0, 1.5)),
            roll=pose.roll,
            nose_x=0.0,
            nose_y=0.0,
            aspect=aspect,
            ear=0.3 * (1 - 0.8 * pose.closure),
            span=60.0,
            centre=(FRAME_W / 2, FRAME_H / 2),
        )
        seen.append(Observation(at, geometry))
    return seen


# --- the camera ----------------------------------------------------------------------------------------------


def camera(frame: Image, rng: np.random.Generator, *, noise: float = 2.5, jpeg: bool = True) -> Image:
    """What a webcam delivers: sensor noise, a small gain drift, MJPG compression."""
    out = frame.astype(np.float32) * rng.uniform(0.97, 1.03) + rng.normal(0, noise, frame.shape).astype(np.float32)
    out_u8 = u8(np.clip(out, 0, 255))
    if not jpeg:
        return u8(out_u8)
    ok, buffer = cv2.imencode(".jpg", out_u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(80, 93))])
    return np.asarray(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED), dtype=np.uint8) if ok else out_u8


def film(
    scene: Scene,
    track: Sequence[tuple[float, Pose]],
    rng: np.random.Generator,
    *,
    post: Callable[[Image], Image] | None = None,
) -> list[tuple[float, Image]]:
    """Render `track` through the camera; `post` changes each rendered frame first (a screen's look)."""
    frames = []
    for at, pose in track:
        image = render(scene, pose)
        if post is not None:
            image = post(image)
        frames.append((at, camera(image, rng)))
    return frames


def live_attempt(
    scene: Scene, challenge: Challenge, rng: np.random.Generator, *, fps: float = 7.0
) -> list[tuple[float, Image]]:
    """A live person answering `challenge`: the frames a camera delivers, timestamped."""
    return film(scene, follow(challenge, rng, LIVE, fps=fps), rng)


def recording(
    scene: Scene, challenge: Challenge, rng: np.random.Generator, *, fps: float = 10.0
) -> list[tuple[float, Image]]:
    """A live answer to `challenge` as a camera records it: every frame, `fps` a second, to the end."""
    track = follow(challenge, rng)
    count = int((challenge.duration + 0.3) * fps)
    steady = [(i / fps, min(track, key=lambda item: abs(item[0] - i / fps))[1]) for i in range(count)]
    return film(scene, steady, rng)


def write_live_demo(directory: Path) -> tuple[Path, bytes]:
    """A recorded live answer of scikit-image's astronaut (MJPG video) and her chip photo (JPEG 2000).

    The video answers one challenge, drawn from seed 2026 (`python -m facematch match --challenge-seed 2026
    --video live.avi --fps 10` accepts it): played as the camera of a new attempt it is a replay and fails;
    `--camera simulate:astronaut` is a patient who follows the prompts instead. Used by the demo and tests.
    """
    from skimage import data as skdata

    from .._challenge import draw_challenge
    from .._engine import get_engine
    from .._settings import ChallengeSettings

    astronaut = np.ascontiguousarray(skdata.astronaut())  # type: ignore[no-untyped-call]
    scene = person(get_engine(), astronaut)
    challenge = draw_challenge(ChallengeSettings(), random.Random(2026))
    directory.mkdir(parents=True, exist_ok=True)
    video = directory / "live.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (FRAME_W, FRAME_H))
    for _, image in recording(scene, challenge, np.random.default_rng(0)):
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return video, chip_photo(astronaut[20:260, 110:330])


def chip_photo(portrait: Image, *, width: int = 176, height: int = 192, target_bytes: int = 4500) -> bytes:
    """A head-and-shoulders portrait as a chip photo: 176x192 JPEG 2000 of about `target_bytes` (rate-controlled)."""
    import io

    from PIL import Image as PILImage

    small = np.asarray(cv2.resize(portrait, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    buffer = io.BytesIO()
    ratio = width * height * 3 / target_bytes
    PILImage.fromarray(small).save(buffer, "JPEG2000", quality_mode="rates", quality_layers=[ratio], irreversible=True)
    return buffer.getvalue()
