"""Tunable settings, each with the reason for its default (measurements in docs/facematch.md).

Every liveness threshold below was set on the *tuning* identities of the evaluation (scikit-image's
astronaut and matplotlib's Grace Hopper) and then judged, unchanged, on the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 0.45
"""Largest distance accepted as the same person (docs/facematch.md, "The match band"): tuning faces give
genuine chip-vs-camera distances <= 0.23 and impostors >= 0.647."""

DEFAULT_UNDECIDED_MARGIN = 0.15
"""Distances in (threshold, threshold + margin] are "could not decide": the terminal falls back."""

FACE_LOCK_LIMIT = 10
"""Consecutive failed face matches after which the card locks face matching (the real chip rule)."""


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """Gates applied to a face before it may be compared."""

    min_face_px: int = 90  # eye-corner span x 2.2 (about the face width) in the original image
    max_face_fraction: float = 0.75  # face height / image height; above, the head is cut
    min_sharpness: float = 40.0  # Laplacian variance of the 128x128 face crop at std 50
    min_brightness: float = 50.0  # mean grey level of the face crop
    max_brightness: float = 210.0
    max_clipped_share: float = 0.25  # share of face pixels at <=5 or >=250
    max_yaw: float = 20.0  # degrees, parallax reading (the match frame must be frontal)
    max_pitch: float = 25.0
    max_roll: float = 15.0
    mask_score: float = 1.0  # above: the lower face is covered (a mask); tuning faces bare <= 0.3, masked >= 1.8


CARD_PHOTO_QUALITY = QualitySettings(
    min_face_px=50, max_face_fraction=1.0, min_sharpness=15.0, max_yaw=20.0, max_pitch=25.0, max_roll=15.0
)
"""The chip photo is small and taken to passport rules: smaller faces are fine, pose must be frontal."""


@dataclass(frozen=True, slots=True)
class ChallengeSettings:
    """How challenges are drawn: one blink plus `head_moves` different head movements, random order and timing."""

    head_moves: int = 3  # 4 x 3 x 2 orders of three moves x 4 places for the blink: 96 orders
    first_pause: tuple[float, float] = (0.9, 1.3)  # seconds facing the camera before the first prompt
    step_length: tuple[float, float] = (1.0, 1.5)  # seconds each prompt is shown
    pause: tuple[float, float] = (0.9, 1.3)  # "face the camera" between prompts (a head takes 0.6-1 s back)


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    """Thresholds of the challenge check and of the passive presentation-attack checks."""

    analysis_fps: float = 7.0  # frames analysed per second during a movement (more are skipped: CPU)
    pause_fps: float = 6.0  # ... during "face the camera"
    blink_fps: float = 11.0  # ... around "blink" (eye model on): a blink's closed phase lasts 0.1-0.3 s
    min_face_share: float = 0.6  # share of analysed frames of each prompt that must show the face
    reaction_min: float = 0.1  # s: a movement whose rise began sooner after its prompt anticipated it
    reaction_max: float = 1.3  # s: the movement must have started by then
    settle: float = 0.6  # s allowed after a prompt ends to finish the movement
    turn_degrees: float = 15.0  # parallax yaw the patient must reach (a sheet turned any amount stays ~0-6)
    pitch_degrees: float = 10.0  # parallax pitch change for "look up" (a sheet tilted 55° reads <= 8.5)
    down_degrees: float = 5.5  # for "look down" (real heads read ~0.5x the angle; sheets read the wrong way)
    onset_fraction: float = 0.35  # a movement's rise starts at the last frame below this share of its target
    neutral_degrees: float = 12.0  # "face the camera": yaw and pitch back within this of the neutral pose
    cross_fraction: float = 0.9  # the other axis may move at most this share of the asked one
    blink_closed: float = 0.6  # eye aspect ratio at or below this share of the open eyes is "closed"
    blink_open: float = 0.85  # ... at or above this share is "open"
    # The face's aspect may change this much while the eyes close (a sheet tipped far enough to fake a closed
    # eye, >= 53°, changes it >= 1.66x).
    blink_shape: float = 0.25
    min_open_ear: float = 0.12  # eyes never opened wider than this: the blink check cannot run (guidance)
    min_depth_ratio: float = 0.5  # nose parallax / foreshortening on turned frames, real heads ~0.8-1.05
    depth_min_turn: float = 18.0  # degrees of foreshortening before the depth ratio is read
    frozen_diff: float = 0.3  # mean absolute grey difference below which two frames count as identical
    max_frozen_share: float = 0.2  # share of consecutive analysed pairs allowed to be identical
    max_screen_score: float = 3.8  # median log peak ratio of the face spectrum; tuning faces: live <= 3.31 per frame


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Everything a `FaceMatcher` can be tuned with."""

    threshold: float = DEFAULT_THRESHOLD
    undecided_margin: float = DEFAULT_UNDECIDED_MARGIN
    require_liveness: bool = True
    camera_quality: QualitySettings = field(default_factory=QualitySettings)
    card_quality: QualitySettings = CARD_PHOTO_QUALITY
    challenge: ChallengeSettings = field(default_factory=ChallengeSettings)
    liveness: LivenessSettings = field(default_factory=LivenessSettings)
    max_fit_disagreement: float = 0.12  # eye spans between dlib's and the mesh's eye corners on the match frame
