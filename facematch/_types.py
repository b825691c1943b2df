"""Results returned by facematch: plain frozen dataclasses, with no image or embedding inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from ._challenge import Prompt
from ._texts import Bilingual

Outcome = Literal["match", "no_match", "undecided"]


class Reason(StrEnum):
    """Why an image was refused or a match was not made; the terminal maps each to a screen message."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_TOO_LARGE = "face_too_large"
    BLURRY = "blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    HEAD_TURNED = "head_turned"
    HEAD_TILTED = "head_tilted"
    HEAD_ROLLED = "head_rolled"
    MASK = "mask"
    FACE_THE_CAMERA = "face_the_camera"
    FACE_LOST = "face_lost"
    CARD_PHOTO_UNUSABLE = "card_photo_unusable"
    NOT_ENOUGH_FRAMES = "not_enough_frames"
    LIVENESS_FAILED = "liveness_failed"
    PROMPT_NOT_FOLLOWED = "prompt_not_followed"
    BORDERLINE_DISTANCE = "borderline_distance"
    DIFFERENT_PERSON = "different_person"


PATIENT_MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.NO_FACE: ("Look at the camera.", "カメラの方を向いてください。"),
    Reason.SEVERAL_FACES: (
        "Only one person in front of the camera, please.",
        "カメラの前はお一人でお願いします。",
    ),
    Reason.FACE_TOO_SMALL: ("Move closer.", "もう少し近づいてください。"),
    Reason.FACE_TOO_LARGE: ("Move back a little.", "少し離れてください。"),
    Reason.BLURRY: ("Hold still.", "動かずにお待ちください。"),
    Reason.TOO_DARK: ("More light is needed: face the light.", "明るい方を向いてください。"),
    Reason.TOO_BRIGHT: (
        "Too bright: move out of the direct light.",
        "まぶしすぎます。位置を少し変えてください。",
    ),
    Reason.HEAD_TURNED: ("Look straight at the camera.", "正面を向いてください。"),
    Reason.HEAD_TILTED: ("Keep your chin level.", "あごを引かず上げず、まっすぐ向いてください。"),
    Reason.HEAD_ROLLED: ("Keep your head straight.", "頭を傾けずにお願いします。"),
    Reason.MASK: ("Please take off your mask.", "マスクを外してください。"),
    Reason.FACE_THE_CAMERA: ("Please face the camera.", "カメラの正面を向いてください。"),
    Reason.FACE_LOST: ("Keep your face in view of the camera.", "顔がカメラに映るようにしてください。"),
    Reason.CARD_PHOTO_UNUSABLE: (
        "Face matching is not possible with this card.",
        "このカードでは顔認証できません。",
    ),
    Reason.NOT_ENOUGH_FRAMES: ("Look at the camera a little longer.", "もう少しカメラを見続けてください。"),
    Reason.LIVENESS_FAILED: ("Face not recognised as a live person.", "本人確認ができませんでした。"),
    Reason.PROMPT_NOT_FOLLOWED: (
        "The movement asked on screen was not seen. Please follow the instructions.",
        "画面の指示どおりの動きが確認できませんでした。指示に従ってください。",
    ),
    Reason.BORDERLINE_DISTANCE: (
        "Please use your PIN or ask the staff.",
        "暗証番号または職員の確認をご利用ください。",
    ),
    Reason.DIFFERENT_PERSON: ("Face not recognised.", "顔認証できませんでした。"),
}


@dataclass(frozen=True, slots=True)
class Refusal(Bilingual):
    """One reason with a detail for staff (e.g. which faces) and the patient's messages."""

    reason: Reason
    detail: str = ""

    @property
    def texts(self) -> tuple[str, str]:
        """What the reception screen tells the patient: (English, Japanese)."""
        return PATIENT_MESSAGES[self.reason]


@dataclass(frozen=True, slots=True)
class FaceMeasures:
    """What was measured on the chosen face of one image (numbers only, nothing biometric)."""

    face_px: int
    face_height: int
    sharpness: float
    brightness: float
    clipped_share: float
    yaw: float
    pitch: float
    roll: float
    mask: float


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The verdict of the quality gates on one image; `refusals` is empty when it is usable."""

    refusals: tuple[Refusal, ...]
    measures: FaceMeasures | None = None
    faces_found: int = 0

    @property
    def ok(self) -> bool:
        """True when the image passed every gate."""
        return not self.refusals


@dataclass(frozen=True, slots=True)
class LivenessCheck:
    """One presentation-attack check: its name, whether it passed, the measured value."""

    name: str
    passed: bool
    value: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LivenessResult:
    """All liveness checks that ran over a frame sequence."""

    checks: tuple[LivenessCheck, ...]

    @property
    def passed(self) -> bool:
        """True when at least one check ran and every check passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def flags(self) -> dict[str, bool]:
        """Check name -> passed, the only liveness data that may leave the terminal."""
        return {check.name: check.passed for check in self.checks}


COUNTED = frozenset(
    {Reason.LIVENESS_FAILED, Reason.PROMPT_NOT_FOLLOWED, Reason.BORDERLINE_DISTANCE, Reason.DIFFERENT_PERSON}
)
"""The reasons that count toward the card's lock; every other reason is guidance."""


@dataclass(frozen=True, slots=True)
class Guidance(Bilingual):
    """What the screen shows after a frame: the prompt to follow and, if any, what to fix first."""

    prompt: Prompt | None
    problem: Refusal | None = None
    done: bool = False

    @property
    def texts(self) -> tuple[str, str]:
        """The line to show: the problem if there is one, else the prompt (English, Japanese)."""
        if self.problem is not None:
            return self.problem.texts
        return self.prompt.texts if self.prompt is not None else ("", "")


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """The answer of one face-match attempt."""

    outcome: Outcome
    distance: float | None
    threshold: float
    card_quality: QualityReport
    camera_quality: QualityReport
    liveness: LivenessResult | None
    refusals: tuple[Refusal, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        """True only for a match with liveness passed."""
        return self.outcome == "match"

    @property
    def compared(self) -> bool:
        """True when both faces were usable and the comparison (or the liveness check) was made."""
        return self.card_quality.ok and self.camera_quality.ok

    @property
    def counts_as_failure(self) -> bool:
        """True when the attempt counts toward the card's 10-failure lock.

        Only real failures count: a presentation judged and refused (a prompt not followed, a liveness check
        failed), a borderline distance, a different person. Guidance does not (a mask, a head turned or
        rolled, a face lost, poor light, too few frames, an unusable card photo): nothing was judged, and the
        patient is told what to fix.
        """
        return self.card_quality.ok and not self.matched and any(r.reason in COUNTED for r in self.refusals)

    @property
    def should_fall_back(self) -> bool:
        """True when retrying the camera cannot help: use the PIN or the staff visual check."""
        return not self.card_quality.ok or any(r.reason == Reason.BORDERLINE_DISTANCE for r in self.refusals)

    def to_service_payload(self) -> dict[str, object]:
        """What may be sent to the service: the decision, the distance and the liveness flags only."""
        return {
            "method": "face",
            "decision": self.outcome,
            "face_distance": None if self.distance is None else round(self.distance, 4),
            "liveness_passed": self.liveness is not None and self.liveness.passed,
        }
