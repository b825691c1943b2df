"""Tunable settings, each with the reason for its default (measurements in docs/facematch.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 0.45
"""Largest distance accepted as the same person; dlib's 0.6 is LFW-tuned and too lax (docs/facematch.md)."""

DEFAULT_UNDECIDED_MARGIN = 0.10
"""Distances in (threshold, threshold + margin] are "could not decide": the terminal falls back."""

FACE_LOCK_LIMIT = 10
"""Consecutive failed face matches after which the card locks face matching (the real chip rule)."""


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """Gates applied to every analysed image before it may be compared."""

    min_detection_score: float = 0.3  # dlib HOG score; spurious "faces" (astronaut's suit) score ~0.1
    min_face_px: int = 90  # face box width in the original image; below it the encoding degrades
    max_face_fraction: float = 0.6  # face box (brows to chin) width / image height; above, the head is cut
    min_sharpness: float = 50.0  # Laplacian variance, crop 128x128 at std 50: sharp ~270, blur σ=1 ~46
    min_brightness: float = 50.0  # mean grey level of the face crop
    max_brightness: float = 210.0
    max_clipped_share: float = 0.25  # share of face pixels at <=5 or >=250
    max_yaw: float = 25.0  # degrees
    max_pitch: float = 25.0
    max_roll: float = 15.0


CARD_PHOTO_QUALITY = QualitySettings(
    min_face_px=60, max_face_fraction=1.0, min_sharpness=20.0, max_yaw=20.0, max_pitch=20.0
)
"""The chip photo is small and taken to passport rules: smaller faces are fine, pose must be frontal."""


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    """Thresholds of the presentation-attack checks over a short frame sequence."""

    min_frames: int = 5
    # Eye aspect ratios relative to the most open frame: open-eye ratios differ between people (lower for
    # many East Asian eyes), so absolute thresholds would refuse some people and accept others' half-blinks.
    closed_ratio: float = 0.75  # closed at or below this share of the most open frame
    open_ratio: float = 0.9  # open at or above this share
    min_open_ear: float = 0.15  # below it the eyes are not seen open at all
    min_motion: float = 0.03  # largest landmark displacement / inter-ocular distance
    # Nose displacement against the plane fitted to the face outline, in inter-ocular distances (80th
    # percentile over frames): synthetic head turns give 0.05-0.06, photos and screens as planes <= 0.035.
    min_parallax: float = 0.04
    frozen_diff: float = 0.3  # mean absolute grey difference below which two frames count as identical
    max_frozen_share: float = 0.2  # share of consecutive pairs allowed to be identical


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Everything a `FaceMatcher` can be tuned with."""

    threshold: float = DEFAULT_THRESHOLD
    undecided_margin: float = DEFAULT_UNDECIDED_MARGIN
    downscale_to: int | None = 480  # longest side of the image given to the detector; None keeps it
    max_frames: int = 15  # frames analysed per attempt (about 1.5 s at 10 fps)
    require_liveness: bool = True
    camera_quality: QualitySettings = field(default_factory=QualitySettings)
    card_quality: QualitySettings = CARD_PHOTO_QUALITY
    liveness: LivenessSettings = field(default_factory=LivenessSettings)
