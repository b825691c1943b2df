"""Scenes: a face photo made a textured height field, posed and rendered through a camera."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from .._decode import Image
from .._engine import FaceEngine
from .._geometry import EYE_RING_L, EYE_RING_R, FACE_OVAL, Landmarks

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
    frame = u8(np.ascontiguousarray(frame))
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
    mask = u8(cv2.dilate(mask, np.ones((grow, grow), np.uint8)))
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


def u8(image: NDArray[np.generic]) -> Image:
    """An image array as uint8."""
    return np.asarray(image, dtype=np.uint8)
