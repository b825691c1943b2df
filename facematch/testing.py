"""Synthetic camera sequences made from real face photos, for tests, the evaluation and the demo.

One renderer draws every scene: a texture with a height field (how far each pixel stands toward the camera)
turned, tilted and rolled about a pivot behind it, projected with perspective. What differs is the object:

- a **live person**: the photo's own face depth (MediaPipe's mesh), the head rounding off behind the face, the
  background still; eyes that close (the openings filled from the skin, a lid line drawn); natural motion that
  follows the prompts with human reaction times, plus sway and spontaneous blinks;
- a **flat print** (height 0) or a **bent print** (a cylinder), printed colours, a border, held in a room;
- a **screen** (phone or monitor): a still or a video on a pixel grid that beats with the camera's (moiré),
  a gamma shift, a glare;
- a **mask**: the photo on a generic head (not the person's own shape), printed colours, eyes that cannot
  close.

These are weaker than physical attacks (docs/facematch.md says how much): they are what a careful attacker
can do with a photo, a printer, a screen or a recorded video, drawn in software.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ._challenge import Action, Challenge, Prompt
from ._decode import Image
from ._engine import FaceEngine
from ._geometry import EYE_RING_L, EYE_RING_R, FACE_OVAL, Geometry, Landmarks
from ._liveness import Observation

FRAME_W, FRAME_H = 640, 480
FloatMap = NDArray[np.float32]


# --- scenes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """Something in front of the camera: textures by eye closure, a height field, where it moves, its pivot."""

    textures: dict[float, Image]  # eye closure (0 open .. 1 shut) -> texture; one entry when eyes cannot close
    height: FloatMap  # toward the camera, in pixels
    weight: FloatMap  # 1 where the object moves, 0 for the still background
    pivot: tuple[float, float, float]  # x, y, height of the rotation centre
    distance: float  # camera to pivot, in pixels (perspective)
    landmarks: Landmarks  # of the face in the unmoved texture


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the object is at one instant: angles in degrees, shift in pixels, eye closure 0..1."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    closure: float = 0.0


def place_face(engine: FaceEngine, photo: Image, *, face_width: float = 170.0) -> tuple[Image, Landmarks]:
    """The photo scaled and shifted so that its face is `face_width` px wide near the centre of a 640x480 frame."""
    faces = engine.faces(photo)
    if not faces:
        raise ValueError("no face in the photo")
    face = max(faces, key=lambda f: float(np.ptp(f[:, 0])))
    oval = face[list(FACE_OVAL), :2]
    width = float(np.ptp(oval[:, 0]))
    centre = oval.mean(axis=0)
    scale = face_width / max(1.0, width)
    matrix = np.array([[scale, 0, FRAME_W / 2 - scale * centre[0]], [0, scale, FRAME_H * 0.47 - scale * centre[1]]])
    frame = cv2.warpAffine(photo, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    frame = _u8(np.ascontiguousarray(frame))
    placed = engine.faces(frame)
    if not placed:
        raise ValueError("no face once placed in the frame")
    return frame, min(placed, key=lambda f: float(np.linalg.norm(f[1, :2] - (FRAME_W / 2, FRAME_H * 0.47))))


def person(engine: FaceEngine, photo: Image, *, face_width: float = 170.0, distance: float = 2.6) -> Scene:
    """A live person: the photo's own face depth, a rounded head, a still background, eyes that close."""
    frame, landmarks = place_face(engine, photo, face_width=face_width)
    height, weight, pivot = _head_field(landmarks, frame.shape[:2])
    textures = {0.0: frame, 0.5: close_eyes(frame, landmarks, 0.5), 1.0: close_eyes(frame, landmarks, 1.0)}
    return Scene(textures, height, weight, pivot, distance * face_width, landmarks)


def _head_field(landmarks: Landmarks, shape: tuple[int, ...]) -> tuple[FloatMap, FloatMap, tuple[float, float, float]]:
    """Height over the frame: the mesh's depth inside the face, an ellipsoid for the rest of the head."""
    from scipy.interpolate import griddata

    rows, cols = shape[:2]
    oval = landmarks[list(FACE_OVAL), :2]
    width = float(np.ptp(oval[:, 0]))
    tall = float(np.ptp(oval[:, 1]))
    cx, cy = float(oval[:, 0].mean()), float(oval[:, 1].mean()) - 0.08 * tall
    ys, xs = np.mgrid[0:rows:4, 0:cols:4].astype(np.float32)
    face_height = griddata(landmarks[:468, :2], -landmarks[:468, 2], (xs, ys), method="linear")
    a, b = 0.72 * width, 0.74 * tall
    r = np.sqrt(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2)
    edge = float(np.median(-landmarks[list(FACE_OVAL), 2]))
    r_edge = 0.72
    ellipsoid = edge + 0.55 * width * (np.sqrt(np.clip(1 - r**2, 0, 1)) - math.sqrt(1 - r_edge**2))
    height = np.where(np.isnan(face_height), ellipsoid, face_height)
    weight = np.clip((1.1 - r) / 0.2, 0, 1)
    height_full = cv2.resize(height.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    weight_full = cv2.resize(weight.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    return height_full, weight_full, (cx, cy, edge - 0.6 * width)


def close_eyes(frame: Image, landmarks: Landmarks, closure: float) -> Image:
    """Shut the eyes (the upper `closure` share of each opening filled from the skin around it, a lid line drawn)."""
    mask = np.zeros(frame.shape[:2], dtype=np.uint8)
    lids = []
    for ring in (EYE_RING_R, EYE_RING_L):
        eye = landmarks[list(ring), :2]
        upper, lower = eye[:9], eye[[0, 15, 14, 13, 12, 11, 10, 9, 8]]
        lid = upper + closure * (lower - upper)
        polygon = np.concatenate([upper, lid[::-1]])
        cv2.fillPoly(mask, [polygon.astype(np.int32)], 255)
        lids.append(lid)
    span = float(np.linalg.norm(landmarks[33, :2] - landmarks[263, :2]))
    grow = max(3, int(0.06 * span)) | 1
    mask = _u8(cv2.dilate(mask, np.ones((grow, grow), np.uint8)))
    shut = np.asarray(cv2.inpaint(frame, mask, 3, cv2.INPAINT_TELEA), dtype=np.uint8)
    if closure >= 0.5:
        for lid in lids:
            cv2.polylines(shut, [lid.astype(np.int32)], False, (60, 42, 36), max(1, int(span / 60)), cv2.LINE_AA)
    return shut


def render(scene: Scene, pose: Pose) -> Image:
    """The scene seen by the camera with the object at `pose` (backward mapping, a few fixed-point steps)."""
    texture = scene.textures[min(scene.textures, key=lambda c: abs(c - pose.closure))]
    box = _moving_box(scene.weight)
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    rotation = _rotation(pose)
    px, py = xs.copy(), ys.copy()
    for _ in range(5):
        qx, qy = _forward(scene, rotation, pose, px, py)
        px += 0.8 * (xs - qx)
        py += 0.8 * (ys - qy)
    out = texture.copy()
    out[y0:y1, x0:x1] = cv2.remap(texture, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out


def _moving_box(weight: FloatMap) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(weight > 0)
    rows, cols = weight.shape
    if len(xs) == 0:
        return 0, 0, cols, rows
    pad = 40
    return max(0, xs.min() - pad), max(0, ys.min() - pad), min(cols, xs.max() + pad), min(rows, ys.max() + pad)


def _rotation(pose: Pose) -> NDArray[np.float64]:
    yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    ry = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    rz = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def _forward(
    scene: Scene, rotation: NDArray[np.float64], pose: Pose, px: FloatMap, py: FloatMap
) -> tuple[FloatMap, FloatMap]:
    """Where the texture pixel (px, py) lands in the camera image."""
    height = cv2.remap(scene.height, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.remap(scene.weight, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cx, cy, cz = scene.pivot
    x, y, z = px - cx, py - cy, height - cz
    rx = rotation[0, 0] * x + rotation[0, 1] * y + rotation[0, 2] * z
    ry = rotation[1, 0] * x + rotation[1, 1] * y + rotation[1, 2] * z
    rz = rotation[2, 0] * x + rotation[2, 1] * y + rotation[2, 2] * z
    perspective = (scene.distance - z) / np.maximum(scene.distance - rz, 1.0)
    qx = cx + pose.dx + pose.scale * perspective * rx
    qy = cy + pose.dy + pose.scale * perspective * ry
    return (px + weight * (qx - px)).astype(np.float32), (py + weight * (qy - py)).astype(np.float32)


# --- the objects an attacker holds up --------------------------------------------------------------------


def printed(image: Image, rng: np.random.Generator) -> Image:
    """Printed colours: ink's smaller gamut and contrast, paper tint, a little blur and grain."""
    out = image.astype(np.float32) * rng.uniform(0.72, 0.85) + rng.uniform(18, 35)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.7, 0.9)
    out *= np.array([1.0, 0.99, 0.95], dtype=np.float32)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.1))
    out += rng.normal(0, 2.0, out.shape[:2])[..., None].astype(np.float32)
    return _u8(np.clip(out, 0, 255))


def on_screen(image: Image, rng: np.random.Generator, *, pitch_px: float) -> Image:
    """A picture on a screen: a pixel grid (`pitch_px` apart, beats with the camera's grid), gamma, blue cast."""
    rows, cols = image.shape[:2]
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    angle = rng.uniform(-0.3, 0.3)
    phase = (xs * math.cos(angle) + ys * math.sin(angle)) * (2 * math.pi / pitch_px)
    grid = 1 - rng.uniform(0.15, 0.3) * (0.5 + 0.5 * np.sin(phase))
    gamma = rng.uniform(0.75, 0.9)
    shown = 255 * (image.astype(np.float32) / 255) ** gamma * grid[..., None] * np.array([0.95, 0.98, 1.05])
    return _u8(np.clip(shown, 0, 255))


def glare(frame: Image, rng: np.random.Generator) -> Image:
    """A reflection on glass: a soft bright patch."""
    rows, cols = frame.shape[:2]
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    gx, gy = rng.uniform(0.2, 0.8) * cols, rng.uniform(0.1, 0.5) * rows
    spot = rng.uniform(25, 60) * np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * (rng.uniform(0.08, 0.2) * cols) ** 2))
    return _u8(np.clip(frame.astype(np.float32) + spot[..., None], 0, 255))


def room(rng: np.random.Generator) -> Image:
    """A background behind a held-up print or phone: smooth colour with some structure."""
    base = rng.uniform(60, 200, 3).astype(np.float32)
    small = rng.normal(0, 25, (6, 8, 3)).astype(np.float32)
    field = cv2.resize(small, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)
    return _u8(np.clip(base + field, 0, 255))


def sheet(
    content: Image,
    landmarks: Landmarks,
    rng: np.random.Generator,
    *,
    size: float,
    bend_radius: float | None = None,
    background: Image | None = None,
) -> Scene:
    """A flat (or cylinder-bent) sheet showing `content`, `size` x the frame, held in front of a room."""
    rows, cols = content.shape[:2]
    w, h = int(cols * size), int(rows * size)
    x0, y0 = (cols - w) // 2 + int(rng.integers(-20, 21)), (rows - h) // 2 + int(rng.integers(-15, 16))
    inner = cv2.resize(content, (w, h), interpolation=cv2.INTER_AREA)
    scene = (background if background is not None else room(rng)).copy()
    weight = np.zeros((rows, cols), np.float32)
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(cols, x0 + w), min(rows, y0 + h)
    scene[ya:yb, xa:xb] = inner[ya - y0 : yb - y0, xa - x0 : xb - x0]
    weight[ya:yb, xa:xb] = 1.0
    moved = landmarks.copy()
    moved[:, :2] = moved[:, :2] * size + (x0, y0)
    height = np.zeros((rows, cols), np.float32)
    if bend_radius is not None:
        scene, height = _bend(scene, weight, bend_radius, cols / 2)
        moved[:, 0] = cols / 2 + bend_radius * np.sin((moved[:, 0] - cols / 2) / bend_radius)
    pivot = (cols / 2.0, rows / 2.0, 0.0)
    return Scene({0.0: scene}, height, weight, pivot, 2.6 * 170.0 * size * 1.4, moved)


def _bend(scene: Image, weight: FloatMap, radius: float, centre_x: float) -> tuple[Image, FloatMap]:
    """Wrap the sheet around a vertical cylinder: x = R sin(s/R) (the sheet's width shrinks), height R cos(s/R)."""
    rows, cols = weight.shape
    xs = np.arange(cols, dtype=np.float32) - centre_x
    inside = np.clip(xs / radius, -0.999, 0.999)
    source_x = centre_x + radius * np.arcsin(inside)
    map_x = np.tile(source_x, (rows, 1)).astype(np.float32)
    map_y = np.tile(np.arange(rows, dtype=np.float32)[:, None], (1, cols))
    bent = np.asarray(cv2.remap(scene, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101), np.uint8)
    height = np.tile((radius * np.sqrt(1 - inside**2) - radius).astype(np.float32), (rows, 1))
    height = np.where(np.abs(xs / radius)[None, :] < 1, height, -radius).astype(np.float32)
    return bent, height * (weight > 0)


def mask_on_head(
    engine: FaceEngine, victim: Image, wearer: Image, rng: np.random.Generator, *, eye_holes: bool = False
) -> Scene:
    """A printed photo of the victim on a generic head (the wearer's head shape), worn by the wearer.

    Without eye holes the printed eyes cannot close; with them the wearer's own eyes show (and blink).
    """
    head = person(engine, wearer)
    face, landmarks = place_face(engine, victim)
    warp = _similarity(landmarks, head.landmarks)
    texture = cv2.warpAffine(printed(face, rng), warp, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REFLECT101)
    inside = np.zeros((FRAME_H, FRAME_W), np.uint8)
    cv2.fillPoly(inside, [head.landmarks[list(FACE_OVAL), :2].astype(np.int32)], 255)
    if eye_holes:
        for ring in (EYE_RING_R, EYE_RING_L):
            cv2.fillPoly(inside, [head.landmarks[list(ring), :2].astype(np.int32)], 0)
    soft = np.asarray(cv2.GaussianBlur(inside, (0, 0), 2), dtype=np.float32)[..., None] / 255
    closures = head.textures if eye_holes else {0.0: head.textures[0.0]}
    textures = {c: _u8(soft * texture + (1 - soft) * base.astype(np.float32)) for c, base in closures.items()}
    return replace(head, textures=textures)


def _similarity(source: Landmarks, target: Landmarks) -> NDArray[np.float64]:
    points = [33, 263, 1, 61, 291, 152]
    matrix, _ = cv2.estimateAffinePartial2D(source[points, :2], target[points, :2])
    return np.asarray(matrix, dtype=np.float64)


def with_mask(scene: Scene, rng: np.random.Generator, mask_texture: Image | None = None) -> Scene:
    """The person wearing a face mask over the nose, mouth and chin (a plain colour, or a given texture)."""
    lm = scene.landmarks
    points = [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323,
              454, 357, 343, 437, 420, 360, 344, 438, 309, 250, 462, 370, 94, 141, 242, 20, 79, 218, 198, 131,
              114, 128]  # fmt: skip
    polygon = lm[points, :2].astype(np.int32)
    region = np.zeros((FRAME_H, FRAME_W), np.uint8)
    cv2.fillPoly(region, [cv2.convexHull(polygon)], 255)
    textures = {}
    for closure, texture in scene.textures.items():
        covered = texture.copy()
        if mask_texture is None:
            colour = rng.choice([(235, 235, 238), (170, 200, 230), (40, 40, 45), (230, 200, 205)])
            fill = np.full_like(texture, colour, dtype=np.uint8)
            shade = cv2.GaussianBlur(rng.normal(0, 8, (FRAME_H, FRAME_W)).astype(np.float32), (0, 0), 6)
            fill = np.clip(fill.astype(np.float32) + shade[..., None], 0, 255).astype(np.uint8)
        else:
            x, y, w, h = cv2.boundingRect(polygon)
            fill = np.zeros_like(texture)
            fill[y : y + h, x : x + w] = cv2.resize(mask_texture, (w, h))[: FRAME_H - y, : FRAME_W - x]
        covered[region > 0] = fill[region > 0]
        textures[closure] = covered
    return replace(scene, textures=textures)


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
    out_u8 = _u8(np.clip(out, 0, 255))
    if not jpeg:
        return _u8(out_u8)
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

    from ._challenge import draw_challenge
    from ._engine import get_engine
    from ._settings import ChallengeSettings

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


# --- presentation attacks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackContext:
    """What an attacker has: the victim's photo (as a live-looking scene too), another head to wear a mask."""

    engine: FaceEngine
    victim: Image
    victim_scene: Scene
    wearer: Image
    challenge: Challenge
    rng: np.random.Generator
    other_challenge: Challenge


Attack = Callable[[AttackContext], list[tuple[float, Image]]]


def _still(ctx: AttackContext) -> Image:
    return render(ctx.victim_scene, Pose())


def _times(ctx: AttackContext) -> list[float]:
    return frame_times(ctx.challenge, ctx.rng)


def still_injected(ctx: AttackContext) -> list[tuple[float, Image]]:
    """The same still image injected as every frame (a virtual camera)."""
    frame = camera(_still(ctx), ctx.rng)
    return [(at, frame) for at in _times(ctx)]


def still_with_noise(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A still injected with fresh sensor noise and a one-pixel jitter on every frame."""
    still = _still(ctx)
    frames = []
    for at in _times(ctx):
        shift = np.array([[1, 0, ctx.rng.uniform(-1, 1)], [0, 1, ctx.rng.uniform(-1, 1)]], dtype=np.float32)
        moved = cv2.warpAffine(still, shift, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REFLECT101)
        frames.append((at, camera(np.asarray(moved, np.uint8), ctx.rng, noise=3.0)))
    return frames


def _held(
    ctx: AttackContext, scene: Scene, mover: Mover, *, post: Callable[[Image], Image] | None = None
) -> list[tuple[float, Image]]:
    return film(scene, follow(ctx.challenge, ctx.rng, mover), ctx.rng, post=post)


def print_flat(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A printed photo held up, turned and tilted by hand as the prompts ask."""
    scene = sheet(printed(_still(ctx), ctx.rng), ctx.victim_scene.landmarks, ctx.rng, size=ctx.rng.uniform(0.75, 1.0))
    return _held(ctx, scene, HELD_SHEET)


def print_tilted(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A printed photo turned and tilted hard (45-65°), and tipped back sharply to fake the blink."""
    scene = sheet(printed(_still(ctx), ctx.rng), ctx.victim_scene.landmarks, ctx.rng, size=ctx.rng.uniform(0.8, 1.0))
    mover = Mover(
        turn=(45.0, 65.0), tilt=(40.0, 60.0), reaction=(0.3, 0.8), blinks=False, sway=1.0, spontaneous_blinks=0
    )
    track = follow(ctx.challenge, ctx.rng, mover)
    blink = next((p for p in ctx.challenge.steps if p.action == Action.BLINK), None)
    if blink is not None:  # tip the sheet away for ~0.3 s: the eyes look shorter
        start = blink.start + ctx.rng.uniform(0.3, 0.6)
        track = [
            (at, replace(pose, pitch=pose.pitch + (60.0 if start <= at <= start + 0.3 else 0.0))) for at, pose in track
        ]
    return film(scene, track, ctx.rng)


def print_bent(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A printed photo bent into a cylinder (radius 0.5-0.9 face widths) and turned and tilted as asked."""
    size = ctx.rng.uniform(0.8, 1.0)
    radius = ctx.rng.uniform(0.5, 0.9) * 170.0 * size
    scene = sheet(printed(_still(ctx), ctx.rng), ctx.victim_scene.landmarks, ctx.rng, size=size, bend_radius=radius)
    return _held(ctx, scene, Mover(turn=(30.0, 60.0), tilt=(25.0, 45.0), blinks=False, spontaneous_blinks=0))


def print_cut_out_eyes(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A printed photo with the eyes cut out: the attacker's own eyes behind it blink when asked."""
    lm = ctx.victim_scene.landmarks
    open_print = printed(_still(ctx), ctx.rng)
    shut_print = close_eyes(open_print, lm, 1.0)
    size = ctx.rng.uniform(0.75, 1.0)
    base = sheet(open_print, lm, ctx.rng, size=size)
    background = base.textures[0.0]
    shut = sheet(shut_print, lm, np.random.default_rng(0), size=size, background=background)
    scene = replace(base, textures={0.0: base.textures[0.0], 1.0: shut.textures[0.0]})
    return _held(ctx, scene, replace(HELD_SHEET, blinks=True))


def _screen(ctx: AttackContext, content: Image, size: float) -> Image:
    return on_screen(content, ctx.rng, pitch_px=ctx.rng.uniform(1.6, 3.2)) if size else content


def phone_still(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A phone showing the victim's photo, turned and tilted by hand as asked (moiré, glare)."""
    size = ctx.rng.uniform(0.5, 0.7)
    scene = sheet(_screen(ctx, _still(ctx), size), ctx.victim_scene.landmarks, ctx.rng, size=size)
    return _held(ctx, scene, HELD_SHEET, post=lambda image: glare(image, ctx.rng))


def monitor_still(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A monitor filling the view with the victim's photo, wobbled as asked (it cannot turn a head)."""
    scene = sheet(_screen(ctx, _still(ctx), 1.0), ctx.victim_scene.landmarks, ctx.rng, size=ctx.rng.uniform(1.0, 1.15))
    mover = Mover(turn=(8.0, 20.0), tilt=(8.0, 20.0), blinks=False, sway=0.5, spontaneous_blinks=0)
    return _held(ctx, scene, mover, post=lambda image: glare(image, ctx.rng))


def _on_device(ctx: AttackContext, video: Sequence[tuple[float, Image]], *, phone: bool) -> list[tuple[float, Image]]:
    """Frames of a video played on a phone (held, slight tremor) or a monitor, filmed by the camera."""
    size = ctx.rng.uniform(0.55, 0.7) if phone else ctx.rng.uniform(1.0, 1.15)
    geometry = sheet(video[0][1], ctx.victim_scene.landmarks, ctx.rng, size=size)
    background = room(ctx.rng)
    tremor = _sway([at for at, _ in video], ctx.rng, 1.5 if phone else 0.3)
    frames = []
    for i, (at, content) in enumerate(video):
        shown = sheet(_screen(ctx, content, size), ctx.victim_scene.landmarks, np.random.default_rng(1), size=size,
                      background=background)  # fmt: skip
        scene = replace(geometry, textures={0.0: shown.textures[0.0]})
        pose = Pose(yaw=tremor[i, 0], pitch=tremor[i, 1], roll=tremor[i, 2], dx=tremor[i, 4], dy=tremor[i, 5])
        frames.append((at, camera(glare(render(scene, pose), np.random.default_rng(i // 20)), ctx.rng)))
    return frames


def screen_video(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A video of the victim (moving and blinking at random, no prompt followed) played on a phone."""
    video = film(ctx.victim_scene, wander(ctx.challenge.duration + 0.3, ctx.rng), ctx.rng)
    return _on_device(ctx, video, phone=bool(ctx.rng.integers(2)))


def _recorded_answer(ctx: AttackContext) -> list[tuple[float, Image]]:
    """The victim's correct answer to an earlier challenge, recorded (started when this attempt starts)."""
    return live_attempt(ctx.victim_scene, ctx.other_challenge, ctx.rng)


def screen_replay(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A recorded genuine answer to an earlier challenge, played on a phone or a monitor."""
    return _on_device(ctx, _recorded_answer(ctx), phone=bool(ctx.rng.integers(2)))


def injected_replay(ctx: AttackContext) -> list[tuple[float, Image]]:
    """A recorded genuine answer to an earlier challenge, injected as the camera (no screen to see)."""
    return _recorded_answer(ctx)


def mesh_mask(ctx: AttackContext) -> list[tuple[float, Image]]:
    """The victim's photo printed onto a head-shaped mask (another head's shape), worn and moved as asked."""
    scene = mask_on_head(ctx.engine, ctx.victim, ctx.wearer, ctx.rng)
    return film(scene, follow(ctx.challenge, ctx.rng, replace(LIVE, blinks=False)), ctx.rng)


def mesh_mask_eye_holes(ctx: AttackContext) -> list[tuple[float, Image]]:
    """The 2023 attack: a head-shaped printed mask with eye holes; the wearer follows the prompts and blinks."""
    scene = mask_on_head(ctx.engine, ctx.victim, ctx.wearer, ctx.rng, eye_holes=True)
    return film(scene, follow(ctx.challenge, ctx.rng, LIVE), ctx.rng)


def puppet_2d(ctx: AttackContext) -> list[tuple[float, Image]]:
    """The victim's photo animated in 2-D to follow the prompts (squeezed for a turn, eyes inpainted shut)."""
    flat = sheet(_still(ctx), ctx.victim_scene.landmarks, ctx.rng, size=1.0)
    shut = close_eyes(_still(ctx), ctx.victim_scene.landmarks, 1.0)
    scene = replace(flat, textures={0.0: flat.textures[0.0], 1.0: shut})
    return film(scene, follow(ctx.challenge, ctx.rng, replace(LIVE, turn=(30.0, 50.0), tilt=(25.0, 40.0))), ctx.rng)


ATTACKS: dict[str, Attack] = {
    "still injected": still_injected,
    "still with injected noise": still_with_noise,
    "flat print, turned and tilted": print_flat,
    "print tilted hard, tipped to fake a blink": print_tilted,
    "print bent into a cylinder": print_bent,
    "print with cut-out eyes (real blink)": print_cut_out_eyes,
    "phone showing a still": phone_still,
    "monitor showing a still": monitor_still,
    "phone/monitor playing a video": screen_video,
    "screen replay of an earlier answer": screen_replay,
    "injected replay of an earlier answer": injected_replay,
    "photo on a 3-D head mask": mesh_mask,
    "photo animated in 2-D (puppet)": puppet_2d,
}
"""Every attack kind of the evaluation, by name: the target is that none of them passes."""

KNOWN_GAPS: dict[str, Attack] = {
    "3-D head mask with eye holes (real blink)": mesh_mask_eye_holes,
}
"""Attacks measured and reported but not claimed to be stopped: a mask shaped like a head, with the wearer's
own eyes, follows every prompt; only texture cues (which this library does not learn) could tell it apart."""


def _u8(image: NDArray[np.generic]) -> Image:
    return np.asarray(image, dtype=np.uint8)


class SimulatedPatient:
    """A `FrameSource` that is a synthetic patient made from a photo, following the prompts it is shown.

    For demos and tests only (`--camera simulate:PHOTO`, or `simulate:astronaut` for scikit-image's astronaut):
    the patient "reads" the challenge when the attempt starts and answers it as `follow` does.
    """

    live = False
    fps = 10.0

    def __init__(self, scene: Scene, seed: int = 0) -> None:
        self._scene = scene
        self._rng = np.random.default_rng(seed)
        self._track: list[tuple[float, Pose]] = []

    @classmethod
    def from_spec(cls, spec: str) -> SimulatedPatient:
        """`astronaut`, or the path of a face photo."""
        from ._decode import decode_image
        from ._engine import get_engine
        from ._exceptions import FrameSourceError

        if spec == "astronaut":
            from skimage import data as skdata

            photo = _u8(np.ascontiguousarray(skdata.astronaut()))  # type: ignore[no-untyped-call]
        else:
            try:
                photo = decode_image(Path(spec).read_bytes())
            except OSError as exc:
                raise FrameSourceError(f"cannot read {spec}: {exc}") from exc
        try:
            return cls(person(get_engine(), photo))
        except ValueError as exc:
            raise FrameSourceError(f"cannot simulate a patient from {spec}: {exc}") from exc

    def start(self, challenge: Challenge) -> None:
        """Read the prompts, as a patient reads the screen."""
        self._track = follow(challenge, self._rng, fps=self.fps)

    def frame(self, at: float) -> Image | None:
        """The patient at `at` seconds, through a webcam; None after the end."""
        if not self._track or at > self._track[-1][0] + 0.5:
            return None
        pose = min(self._track, key=lambda item: abs(item[0] - at))[1]
        return camera(render(self._scene, pose), self._rng)

    def close(self) -> None:
        """Nothing to release."""
