"""facematch: the card's face photo against a live camera, with an active challenge the patient follows.

Used by the reception terminal for the face method of the presence check (see docs/facematch.md). A client
(the terminal, or a browser kiosk's server) drives an attempt frame by frame:

    matcher = FaceMatcher()                        # threshold 0.40, see docs/facematch.md
    card_face = matcher.enrol(card.face_image)     # once per visit: the chip photo, gated and encoded
    session = start_attempt(matcher, card, card_face)  # FaceLockedError after 10 counted failures
    session.challenge.prompts                      # e.g. 顔を左に向けてください at 1.2-2.8 s, まばたき..., random
    guidance = session.feed(frame, at=1.73)        # timestamped frames; guidance.message_ja to show now
    decision = session.finish()                    # "match" | "no_match" | "undecided", distance, checks
    record_attempt(card, decision)                 # only real failures count toward the lock
    decision.to_service_payload()                  # {"method", "decision", "face_distance", "liveness_passed"}

`run_attempt(session, open_source("0"), on_text=...)` runs that loop on a camera, a video or image file, or a
simulated patient; `verify_card_holder(matcher, card, challenge, timed_frames)` judges frames recorded beforehand;
`AsyncFaceMatcher` runs the work in a worker thread, off the event loop. The card's embedding lives in the
`CardFace` for one visit; no image or frame outlives the attempt.

Exceptions (quality refusals, liveness failures and "no match" are outcomes, not exceptions):

    FaceMatchError
    ├── DecodeError             an image could not be decoded
    ├── FrameSourceError        a camera device or video file gave no frame
    ├── ModelUnavailableError   dlib, mediapipe or the model files are missing
    └── FaceLockedError         the card has locked face matching: use the PIN or the staff check
"""

from ._challenge import Action, Challenge, Prompt, draw_challenge
from ._decode import Image, decode_image, encode_image, read_frames
from ._exceptions import DecodeError, FaceLockedError, FaceMatchError, FrameSourceError, ModelUnavailableError
from ._lock import FaceCard, FaceCounter, record_attempt, refuse_if_locked, start_attempt, verify_card_holder
from ._matcher import AsyncFaceMatcher, AsyncFaceSession, CardFace, FaceMatcher, TimedFrame
from ._session import FaceSession
from ._settings import (
    DEFAULT_THRESHOLD,
    DEFAULT_UNDECIDED_MARGIN,
    FACE_LOCK_LIMIT,
    ChallengeSettings,
    LivenessSettings,
    MatchSettings,
    QualitySettings,
)
from ._sources import FrameSource, open_source, run_attempt
from ._types import (
    COUNTED,
    FaceMeasures,
    Guidance,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    Outcome,
    QualityReport,
    Reason,
    Refusal,
)

__all__ = [
    "COUNTED",
    "DEFAULT_THRESHOLD",
    "DEFAULT_UNDECIDED_MARGIN",
    "FACE_LOCK_LIMIT",
    "Action",
    "AsyncFaceMatcher",
    "AsyncFaceSession",
    "CardFace",
    "Challenge",
    "ChallengeSettings",
    "DecodeError",
    "FaceCard",
    "FaceCounter",
    "FaceLockedError",
    "FaceMatchError",
    "FaceMatcher",
    "FaceMeasures",
    "FaceSession",
    "FrameSource",
    "FrameSourceError",
    "Guidance",
    "Image",
    "LivenessCheck",
    "LivenessResult",
    "LivenessSettings",
    "MatchDecision",
    "MatchSettings",
    "ModelUnavailableError",
    "Outcome",
    "Prompt",
    "QualityReport",
    "QualitySettings",
    "Reason",
    "Refusal",
    "TimedFrame",
    "decode_image",
    "draw_challenge",
    "encode_image",
    "open_source",
    "read_frames",
    "record_attempt",
    "refuse_if_locked",
    "run_attempt",
    "start_attempt",
    "verify_card_holder",
]
