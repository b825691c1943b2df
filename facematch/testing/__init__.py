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

from ._attacks import (
    ATTACKS,
    KNOWN_GAPS,
    Attack,
    AttackContext,
    SimulatedPatient,
    injected_replay,
    mesh_mask,
    mesh_mask_eye_holes,
    monitor_still,
    phone_still,
    print_bent,
    print_cut_out_eyes,
    print_flat,
    print_tilted,
    puppet_2d,
    screen_replay,
    screen_video,
    still_injected,
    still_with_noise,
)
from ._motion import (
    HELD_SHEET,
    LIVE,
    Mover,
    camera,
    chip_photo,
    film,
    follow,
    frame_times,
    live_attempt,
    observations,
    recording,
    wander,
    write_live_demo,
)
from ._props import glare, mask_on_head, on_screen, printed, room, sheet, with_mask
from ._scenes import Pose, Scene, close_eyes, person, place_face, render, u8

__all__ = [
    "ATTACKS", "HELD_SHEET", "KNOWN_GAPS", "LIVE", "Attack", "AttackContext", "Mover", "Pose", "Scene",
    "SimulatedPatient", "camera", "chip_photo", "close_eyes", "film", "follow", "frame_times", "glare",
    "injected_replay", "live_attempt", "mask_on_head", "mesh_mask", "mesh_mask_eye_holes", "monitor_still",
    "observations", "on_screen", "person", "phone_still", "place_face", "print_bent", "print_cut_out_eyes",
    "print_flat", "print_tilted", "printed", "puppet_2d", "recording", "render", "room", "screen_replay",
    "screen_video", "sheet", "still_injected", "still_with_noise", "u8", "wander", "with_mask", "write_live_demo",
]
