from __future__ import annotations

import asyncio
import threading

import cv2
import numpy as np
import pytest

from facematch import (
    DEFAULT_THRESHOLD,
    AsyncFaceMatcher,
    FaceMatcher,
    Image,
    LivenessCheck,
    LivenessResult,
    MatchDecision,
    QualityReport,
    Reason,
    Refusal,
    encode_image,
)


def test_default_threshold_is_stricter_than_dlibs() -> None:
    assert DEFAULT_THRESHOLD < 0.6 and FaceMatcher().settings.threshold == DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("distance", "outcome", "reason"),
    [
        (0.30, "match", None),
        (0.45, "match", None),
        (0.46, "undecided", Reason.BORDERLINE_DISTANCE),
        (0.55, "undecided", Reason.BORDERLINE_DISTANCE),
        (0.56, "no_match", Reason.DIFFERENT_PERSON),
        (0.90, "no_match", Reason.DIFFERENT_PERSON),
    ],
)
def test_distance_classification(distance: float, outcome: str, reason: Reason | None) -> None:
    got, refusals = FaceMatcher(threshold=0.45, undecided_margin=0.10).classify(distance)
    assert got == outcome
    assert [r.reason for r in refusals] == ([reason] if reason else [])


def _decision(outcome: str, *, camera_ok: bool = True, card_ok: bool = True, live: bool = True) -> MatchDecision:
    bad = (Refusal(Reason.BLURRY),)
    return MatchDecision(
        outcome=outcome,  # type: ignore[arg-type]
        distance=0.3123456 if camera_ok and card_ok else None,
        threshold=0.45,
        card_quality=QualityReport(() if card_ok else bad),
        camera_quality=QualityReport(() if camera_ok else bad),
        liveness=LivenessResult((LivenessCheck("blink", live, 0.4),)),
    )


def test_service_payload_carries_no_biometrics() -> None:
    payload = _decision("match").to_service_payload()
    assert payload == {
        "method": "face",
        "decision": "match",
        "face_distance": 0.3123,
        "liveness_passed": True,
    }


def test_which_attempts_count_toward_the_lock() -> None:
    assert not _decision("match").counts_as_failure
    assert _decision("no_match").counts_as_failure
    assert _decision("undecided", live=False).counts_as_failure  # presentation attack: counted
    assert not _decision("undecided", camera_ok=False).counts_as_failure  # "move closer": nothing compared
    assert _decision("undecided", card_ok=False).should_fall_back


@pytest.mark.face
def test_same_person_matches(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    decision = matcher.match(card_photo, live_frames)
    assert decision.outcome == "match" and decision.distance is not None and decision.distance <= 0.45
    assert decision.to_service_payload()["liveness_passed"] is True


@pytest.mark.face
def test_different_person_does_not_match(matcher: FaceMatcher, obama: Image, live_frames: list[Image]) -> None:
    decision = matcher.match(encode_image(obama, ".jp2"), live_frames)
    assert decision.outcome == "no_match" and decision.distance is not None and decision.distance > 0.55
    assert decision.refusals[0].reason == Reason.DIFFERENT_PERSON and decision.counts_as_failure


@pytest.mark.face
def test_card_photo_without_a_face_falls_back(matcher: FaceMatcher, live_frames: list[Image]) -> None:
    blank = encode_image(np.full((192, 176, 3), 200, dtype=np.uint8), ".jp2")
    decision = matcher.match(blank, live_frames)
    assert decision.outcome == "undecided" and decision.should_fall_back and not decision.counts_as_failure
    assert decision.refusals[0].reason == Reason.CARD_PHOTO_UNUSABLE


def test_corrupt_card_photo_falls_back() -> None:
    decision = FaceMatcher().match(b"\x00\x00\x00\x0cjP  \r\n\x87\ngarbage", [])
    assert decision.refusals[0].reason == Reason.CARD_PHOTO_UNUSABLE and decision.should_fall_back


@pytest.mark.face
def test_quality_refusal_tells_the_patient(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    dark = [(frame * 0.22).astype(np.uint8) for frame in live_frames]
    decision = matcher.match(card_photo, dark)
    assert decision.outcome == "undecided" and not decision.counts_as_failure
    assert decision.refusals[0].reason == Reason.TOO_DARK and decision.distance is None


@pytest.mark.face
def test_borderline_distance_is_undecided(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    genuine = matcher.match(card_photo, live_frames).distance
    assert genuine is not None
    strict = FaceMatcher(engine=matcher.engine, threshold=genuine - 0.01, undecided_margin=0.1)
    decision = strict.match(card_photo, live_frames)
    assert decision.outcome == "undecided" and decision.should_fall_back and decision.counts_as_failure


@pytest.mark.face
def test_no_image_or_embedding_is_kept(matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]) -> None:
    decision = matcher.match(card_photo, live_frames)
    arrays = [value for value in vars(matcher).values() if isinstance(value, np.ndarray)]
    assert arrays == [] and not any(isinstance(v, np.ndarray | bytes) for v in _fields(decision))


def _fields(decision: MatchDecision) -> list[object]:
    return [getattr(decision, name) for name in decision.__slots__]


@pytest.mark.face
def test_async_matcher_runs_off_the_event_loop(
    matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]
) -> None:
    seen: list[str] = []

    class Spy(FaceMatcher):
        def match(self, card_photo: bytes, frames: object) -> MatchDecision:  # type: ignore[override]
            seen.append(threading.current_thread().name)
            return super().match(card_photo, frames)  # type: ignore[arg-type]

    async def run() -> MatchDecision:
        worker = AsyncFaceMatcher(Spy(engine=matcher.engine), worker="thread")
        try:
            return await worker.match(card_photo, live_frames)
        finally:
            worker.close()

    assert asyncio.run(run()).outcome == "match"
    assert seen and seen[0].startswith("facematch") and seen[0] != threading.main_thread().name


@pytest.mark.face
def test_process_worker_gives_the_same_decision(
    matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]
) -> None:
    async def run() -> MatchDecision:
        worker = AsyncFaceMatcher(FaceMatcher(threshold=0.44))
        try:
            await worker.warm_up()
            return await worker.match(card_photo, live_frames)
        finally:
            worker.close()

    in_process = asyncio.run(run())
    here = FaceMatcher(engine=matcher.engine, threshold=0.44).match(card_photo, live_frames)
    assert (in_process.outcome, in_process.distance, in_process.threshold) == ("match", here.distance, 0.44)


@pytest.mark.face
def test_grey_card_photo_still_decodes_and_matches(
    matcher: FaceMatcher, card_photo: bytes, live_frames: list[Image]
) -> None:
    from facematch import decode_image

    grey = cv2.cvtColor(cv2.cvtColor(decode_image(card_photo), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert matcher.match(encode_image(grey, ".jp2"), live_frames).outcome == "match"
