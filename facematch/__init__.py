"""facematch: the card's face photo against the reception camera, with quality gates and liveness checks.

Used by the reception terminal for the face method of the presence check (see docs/facematch.md):

    matcher = FaceMatcher()                      # threshold 0.45, detection on a 480-px copy
    decision = matcher.match(card.face_image, frames)
    decision.outcome                             # "match" | "no_match" | "undecided"
    decision.refusals[0].message_ja              # what to tell the patient ("もう少し近づいてください。")
    decision.to_service_payload()                # {"method", "decision", "face_distance", "liveness_passed"}

`verify_card_holder(matcher, card, frames)` also records the result on the card, which locks face matching
after 10 consecutive failures; `AsyncFaceMatcher` runs the work in a worker thread, off the event loop.
No image or embedding outlives a call.

Exceptions (quality refusals, liveness failures and "no match" are outcomes, not exceptions):

    FaceMatchError
    ├── DecodeError             an image could not be decoded
    ├── FrameSourceError        a camera device or video file gave no frame
    ├── ModelUnavailableError   dlib or the face-recognition models are missing
    └── FaceLockedError         the card has locked face matching: use the PIN or the staff check
"""

from ._decode import Image, decode_image, encode_image, read_frames
from ._exceptions import DecodeError, FaceLockedError, FaceMatchError, FrameSourceError, ModelUnavailableError
from ._lock import FaceCard, FaceCounter, averify_card_holder, verify_card_holder
from ._matcher import AsyncFaceMatcher, FaceMatcher
from ._settings import (
    DEFAULT_THRESHOLD,
    DEFAULT_UNDECIDED_MARGIN,
    FACE_LOCK_LIMIT,
    LivenessSettings,
    MatchSettings,
    QualitySettings,
)
from ._types import (
    FaceMeasures,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    Outcome,
    QualityReport,
    Reason,
    Refusal,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_UNDECIDED_MARGIN",
    "FACE_LOCK_LIMIT",
    "AsyncFaceMatcher",
    "DecodeError",
    "FaceCard",
    "FaceCounter",
    "FaceLockedError",
    "FaceMatchError",
    "FaceMatcher",
    "FaceMeasures",
    "FrameSourceError",
    "Image",
    "LivenessCheck",
    "LivenessResult",
    "LivenessSettings",
    "MatchDecision",
    "MatchSettings",
    "ModelUnavailableError",
    "Outcome",
    "QualityReport",
    "QualitySettings",
    "Reason",
    "Refusal",
    "averify_card_holder",
    "decode_image",
    "encode_image",
    "read_frames",
    "verify_card_holder",
]
