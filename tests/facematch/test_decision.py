from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from facematch import (
    DEFAULT_THRESHOLD,
    AsyncFaceMatcher,
    CardFace,
    Challenge,
    FaceMatcher,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    QualityReport,
    Reason,
    Refusal,
    TimedFrame,
)


def test_default_threshold_is_stricter_than_dlibs() -> None:
    assert DEFAULT_THRESHOLD < 0.6 and FaceMatcher().settings.threshold == DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("distance", "outcome", "reason"),
    [
        (0.30, "match", None),
        (0.45, "match", None),
        (0.46, "undecided", Reason.BORDERLINE_DISTANCE),
        (0.60, "undecided", Reason.BORDERLINE_DISTANCE),
        (0.61, "no_match", Reason.DIFFERENT_PERSON),
        (0.90, "no_match", Reason.DIFFERENT_PERSON),
    ],
)
def test_distance_classification(distance: float, outcome: str, reason: Reason | None) -> None:
    got, refusals = FaceMatcher(threshold=0.45, undecided_margin=0.15).classify(distance)
    assert got == outcome
    assert [r.reason for r in refusals] == ([reason] if reason else [])


def _decision(outcome: str, reason: Reason | None = None, *, card_ok: bool = True) -> MatchDecision:
    return MatchDecision(
        outcome=outcome,  # type: ignore[arg-type]
        distance=0.3123456 if reason is None else None,
        threshold=0.45,
        card_quality=QualityReport(() if card_ok else (Refusal(Reason.NO_FACE),)),
        camera_quality=QualityReport(()),
        liveness=LivenessResult((LivenessCheck("1:blink", True, 0.4),)),
        refusals=() if reason is None else (Refusal(reason),),
    )


def test_service_payload_carries_no_biometrics() -> None:
    assert _decision("match").to_service_payload() == {
        "method": "face",
        "decision": "match",
        "face_distance": 0.3123,
        "liveness_passed": True,
    }


@pytest.mark.parametrize(
    ("reason", "counted"),
    [
        (Reason.DIFFERENT_PERSON, True),
        (Reason.BORDERLINE_DISTANCE, True),
        (Reason.LIVENESS_FAILED, True),
        (Reason.PROMPT_NOT_FOLLOWED, True),
        (Reason.MASK, False),
        (Reason.HEAD_ROLLED, False),
        (Reason.FACE_THE_CAMERA, False),
        (Reason.FACE_LOST, False),
        (Reason.NO_FACE, False),
        (Reason.TOO_DARK, False),
        (Reason.NOT_ENOUGH_FRAMES, False),
    ],
)
def test_only_real_failures_count_toward_the_lock(reason: Reason, counted: bool) -> None:
    assert _decision("undecided", reason).counts_as_failure is counted


def test_a_match_and_an_unusable_card_never_count() -> None:
    assert not _decision("match").counts_as_failure
    unusable = _decision("undecided", Reason.CARD_PHOTO_UNUSABLE, card_ok=False)
    assert not unusable.counts_as_failure and unusable.should_fall_back


def test_every_reason_tells_the_patient_what_to_do() -> None:
    for reason in Reason:
        refusal = Refusal(reason)
        assert refusal.message and refusal.message_ja.endswith("。")
    assert Refusal(Reason.MASK).message_ja == "マスクを外してください。"


def test_corrupt_card_photo_falls_back() -> None:
    card = FaceMatcher().enrol(b"\x00\x00\x00\x0cjP  \r\n\x87\ngarbage")
    assert not card.usable and card.report.refusals[0].reason == Reason.CARD_PHOTO_UNUSABLE


@pytest.mark.face
def test_async_matcher_runs_off_the_event_loop(
    matcher: FaceMatcher, card_photo: bytes, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    seen: list[str] = []

    class Spy(FaceMatcher):
        def enrol(self, card_photo: bytes) -> CardFace:
            seen.append(threading.current_thread().name)
            return super().enrol(card_photo)

    async def run() -> MatchDecision:
        worker = AsyncFaceMatcher(Spy(engine=matcher.engine))
        try:
            card = await worker.enrol(card_photo)
            session = await worker.start(card, challenge)
            for at, frame in live_frames:
                await session.feed(frame, at)
            return await session.finish()
        finally:
            worker.close()

    assert asyncio.run(run()).outcome == "match"
    assert seen and seen[0].startswith("facematch") and seen[0] != threading.main_thread().name


@pytest.mark.face
def test_the_card_photo_is_encoded_once_per_visit(matcher: FaceMatcher, card_photo: bytes) -> None:
    card = matcher.enrol(card_photo)
    assert card.usable and card.embedding.shape == (128,) and card.cpu_ms > 0
    assert np.allclose(card.embedding, matcher.enrol(card_photo).embedding)
