from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from facematch import (
    FACE_LOCK_LIMIT,
    CardFace,
    Challenge,
    FaceCounter,
    FaceLockedError,
    FaceMatcher,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    QualityReport,
    Reason,
    Refusal,
    TimedFrame,
    draw_challenge,
    verify_card_holder,
)

CHALLENGE = draw_challenge(rng=random.Random(0))


class ScriptedMatcher(FaceMatcher):
    """Returns the outcomes it is given, in order (the matching itself is tested elsewhere)."""

    def __init__(self, outcomes: list[str]) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.calls = 0

    def verify(self, card: CardFace | bytes, challenge: Challenge, frames: Sequence[TimedFrame]) -> MatchDecision:
        outcome = self.outcomes[self.calls]
        self.calls += 1
        reason = {"no_match": Reason.DIFFERENT_PERSON, "mask": Reason.MASK, "replay": Reason.PROMPT_NOT_FOLLOWED}
        return MatchDecision(
            outcome="match" if outcome == "match" else "no_match" if outcome == "no_match" else "undecided",
            distance=0.3 if outcome == "match" else None,
            threshold=0.45,
            card_quality=QualityReport(()),
            camera_quality=QualityReport(()),
            liveness=LivenessResult((LivenessCheck("1:blink", outcome != "replay", 0.4),)),
            refusals=() if outcome == "match" else (Refusal(reason[outcome]),),
        )


def test_card_locks_after_ten_consecutive_failures() -> None:
    assert FACE_LOCK_LIMIT == 10
    card = FaceCounter(b"photo")
    matcher = ScriptedMatcher(["no_match"] * 10)
    for attempt in range(1, 11):
        verify_card_holder(matcher, card, CHALLENGE, [])
        assert card.face_failures == attempt and card.face_locked is (attempt == 10)
    with pytest.raises(FaceLockedError):
        verify_card_holder(matcher, card, CHALLENGE, [])
    assert matcher.calls == 10  # the eleventh attempt never reached the camera


def test_a_match_resets_the_count() -> None:
    card = FaceCounter(b"photo", failures=9)
    verify_card_holder(ScriptedMatcher(["match"]), card, CHALLENGE, [])
    assert card.face_failures == 0 and not card.face_locked


def test_guidance_never_counts_but_a_replay_does() -> None:
    card = FaceCounter(b"photo", failures=8)
    matcher = ScriptedMatcher(["mask"] * 5 + ["replay"])
    for _ in range(5):
        verify_card_holder(matcher, card, CHALLENGE, [])
    assert card.face_failures == 8
    verify_card_holder(matcher, card, CHALLENGE, [])
    assert card.face_failures == 9


def test_a_locked_card_stays_locked() -> None:
    card = FaceCounter(b"photo", failures=10)
    card.record_face_result(matched=True)
    assert card.face_locked


def test_a_locked_card_refuses_before_any_session_starts() -> None:
    from facematch import start_attempt

    card = FaceCounter(b"photo", failures=10)
    with pytest.raises(FaceLockedError):
        start_attempt(ScriptedMatcher([]), card, CardFace(QualityReport(())))
