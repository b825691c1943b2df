"""The objects an attacker holds up: prints, screens, masks, and the room around them."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
from numpy.typing import NDArray

from .._decode import Image
from .._engine import FaceEngine
from .._geometry import EYE_RING_L, EYE_RING_R, FACE_OVAL, Landmarks
from ._scenes import FRAME_H, FRAME_W, FloatMap, Scene, person, place_face, u8

# --- the objects an attacker holds up --------------------------------------------------------------------


def printed(image: Image, rng: np.random.Generator) -> Image:
    """Printed colours: ink's smaller gamut and contrast, paper tint, a little blur and grain."""
    out = image.astype(np.float32) * rng.uniform(0.72, 0.85) + rng.uniform(18, 35)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.7, 0.9)
    out *= np.array([1.0, 0.99, 0.95], dtype=np.float32)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.1))
    out += rng.normal(0, 2.0, out.shape[:2])[..., None].astype(np.float32)
    return u8(np.clip(out, 0, 255))


def on_screen(image: Image, rng: np.random.Generator, *, pitch_px: float) -> Image:
    """A picture on a screen: a pixel grid (`pitch_px` apart, beats with the camera's grid), gamma, blue cast."""
    rows, cols = image.shape[:2]
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    angle = rng.uniform(-0.3, 0.3)
    phase = (xs * math.cos(angle) + ys * math.sin(angle)) * (2 * math.pi / pitch_px)
    grid = 1 - rng.uniform(0.15, 0.3) * (0.5 + 0.5 * np.sin(phase))
    gamma = rng.uniform(0.75, 0.9)
    shown = 255 * (image.astype(np.float32) / 255) ** gamma * grid[..., None] * np.array([0.95, 0.98, 1.05])
    return u8(np.clip(shown, 0, 255))


def glare(frame: Image, rng: np.random.Generator) -> Image:
    """A reflection on glass: a soft bright patch."""
    rows, cols = frame.shape[:2]
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    gx, gy = rng.uniform(0.2, 0.8) * cols, rng.uniform(0.1, 0.5) * rows
    spot = rng.uniform(25, 60) * np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * (rng.uniform(0.08, 0.2) * cols) ** 2))
    return u8(np.clip(frame.astype(np.float32) + spot[..., None], 0, 255))


def room(rng: np.random.Generator) -> Image:
    """A background behind a held-up print or phone: smooth colour with some structure."""
    base = rng.uniform(60, 200, 3).astype(np.float32)
    small = rng.normal(0, 25, (6, 8, 3)).astype(np.float32)
    field = cv2.resize(small, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)
    return u8(np.clip(base + field, 0, 255))


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
    textures = {c: u8(soft * texture + (1 - soft) * base.astype(np.float32)) for c, base in closures.items()}
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
