from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from facematch import (
    FACE_LOCK_LIMIT,
    AsyncFaceMatcher,
    FaceCounter,
    FaceLockedError,
    FaceMatcher,
    Image,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    QualityReport,
    Reason,
    Refusal,
    averify_card_holder,
    verify_card_holder,
)


class ScriptedMatcher(FaceMatcher):
    """Returns the outcomes it is given, in order (the matching itself is tested elsewhere)."""

    def __init__(self, outcomes: list[str]) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.calls = 0

    def match(self, card_photo: bytes, frames: Sequence[Image]) -> MatchDecision:
        outcome = self.outcomes[self.calls]
        self.calls += 1
        camera = QualityReport((Refusal(Reason.FACE_TOO_SMALL),)) if outcome == "too_small" else QualityReport(())
        return MatchDecision(
            outcome="undecided" if outcome == "too_small" else outcome,  # type: ignore[arg-type]
            distance=0.3 if outcome == "match" else 0.8,
            threshold=0.45,
            card_quality=QualityReport(()),
            camera_quality=camera,
            liveness=LivenessResult((LivenessCheck("blink", True, 0.4),)),
        )


def test_card_locks_after_ten_consecutive_failures() -> None:
    assert FACE_LOCK_LIMIT == 10
    card = FaceCounter(b"photo")
    matcher = ScriptedMatcher(["no_match"] * 10)
    for attempt in range(1, 11):
        verify_card_holder(matcher, card, [])
        assert card.face_failures == attempt and card.face_locked is (attempt == 10)
    with pytest.raises(FaceLockedError):
        verify_card_holder(matcher, card, [])
    assert matcher.calls == 10  # the eleventh attempt never reached the camera


def test_a_match_resets_the_count() -> None:
    card = FaceCounter(b"photo", failures=9)
    verify_card_holder(ScriptedMatcher(["match"]), card, [])
    assert card.face_failures == 0 and not card.face_locked


def test_quality_refusals_do_not_count() -> None:
    card = FaceCounter(b"photo", failures=9)
    for _ in range(5):
        verify_card_holder(ScriptedMatcher(["too_small"]), card, [])
    assert card.face_failures == 9 and not card.face_locked


def test_undecided_after_liveness_or_borderline_counts() -> None:
    card = FaceCounter(b"photo")
    verify_card_holder(ScriptedMatcher(["undecided"]), card, [])
    assert card.face_failures == 1


def test_a_locked_card_stays_locked() -> None:
    card = FaceCounter(b"photo", failures=10)
    card.record_face_result(matched=True)
    assert card.face_locked


def test_async_verification_records_on_the_card() -> None:
    card = FaceCounter(b"photo", failures=9)

    async def run() -> None:
        worker = AsyncFaceMatcher(ScriptedMatcher(["no_match"]), worker="thread")
        try:
            await averify_card_holder(worker, card, [])
            with pytest.raises(FaceLockedError):
                await averify_card_holder(worker, card, [])
        finally:
            worker.close()

    asyncio.run(run())
    assert card.face_locked
