"""Whole attempts, frame by frame, on small seeded synthetic sequences made from the astronaut's real photo."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from facematch import (
    CardFace,
    Challenge,
    FaceCounter,
    FaceMatcher,
    Image,
    Reason,
    TimedFrame,
    encode_image,
    record_attempt,
    start_attempt,
)
from facematch import testing as synth

pytestmark = pytest.mark.face


def _run(matcher: FaceMatcher, card: CardFace, challenge: Challenge, frames: list[TimedFrame]) -> tuple:
    session = matcher.start(card, challenge)
    shown = [session.feed(frame, at) for at, frame in frames]
    return session.finish(), shown


def test_a_live_person_following_the_prompts_matches(
    matcher: FaceMatcher, card_face: CardFace, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    decision, shown = _run(matcher, card_face, challenge, live_frames)
    assert decision.outcome == "match" and decision.liveness is not None and decision.liveness.passed
    assert decision.distance is not None and decision.distance <= matcher.settings.threshold
    assert decision.to_service_payload()["liveness_passed"] is True and not decision.counts_as_failure
    assert shown[-1].done and {g.prompt.action for g in shown if g.prompt} == {p.action for p in challenge.prompts}


def test_the_guidance_follows_the_prompts_in_japanese(
    matcher: FaceMatcher, card_face: CardFace, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    _, shown = _run(matcher, card_face, challenge, live_frames)
    first_step = challenge.steps[0]
    during = [g for (at, _), g in zip(live_frames, shown, strict=True) if first_step.start <= at < first_step.end]
    assert during and all(g.message_ja == first_step.message_ja and g.problem is None for g in during)


def test_a_replayed_earlier_answer_fails_and_counts(
    matcher: FaceMatcher, card_face: CardFace, scene: synth.Scene, challenge: Challenge
) -> None:
    earlier = next(c for s in range(100) if (c := matcher.draw(random.Random(s))).steps != challenge.steps)
    recording = synth.live_attempt(scene, earlier, np.random.default_rng(8))  # correct for `earlier`
    assert _run(matcher, card_face, earlier, recording)[0].matched  # it was a genuine answer
    decision, _ = _run(matcher, card_face, challenge, recording)  # replayed against a new challenge
    assert not decision.matched and decision.refusals[0].reason == Reason.PROMPT_NOT_FOLLOWED
    assert decision.counts_as_failure and decision.to_service_payload()["liveness_passed"] is False


def test_a_prompt_not_followed_fails(
    matcher: FaceMatcher, card_face: CardFace, scene: synth.Scene, challenge: Challenge
) -> None:
    rng = np.random.default_rng(4)
    still = [(at, replace(pose, yaw=0.0, pitch=0.0)) for at, pose in synth.follow(challenge, rng)]
    decision, _ = _run(matcher, card_face, challenge, synth.film(scene, still, rng))
    assert decision.refusals[0].reason == Reason.PROMPT_NOT_FOLLOWED and decision.counts_as_failure
    assert decision.liveness is not None and decision.liveness.flags["frames"] is True


def test_a_printed_photo_turned_by_hand_fails(
    matcher: FaceMatcher, card_face: CardFace, scene: synth.Scene, astronaut: Image, challenge: Challenge
) -> None:
    rng = np.random.default_rng(5)
    context = synth.AttackContext(matcher.engine, astronaut, scene, astronaut, challenge, rng, challenge)
    decision, _ = _run(matcher, card_face, challenge, synth.print_flat(context))
    assert not decision.matched and decision.counts_as_failure
    assert decision.liveness is not None and not decision.liveness.passed


def test_a_mask_gets_guidance_and_is_not_counted(
    matcher: FaceMatcher, card_face: CardFace, scene: synth.Scene, challenge: Challenge
) -> None:
    rng = np.random.default_rng(6)
    masked = synth.live_attempt(synth.with_mask(scene, rng), challenge, rng)
    decision, shown = _run(matcher, card_face, challenge, masked)
    assert decision.refusals[0].reason == Reason.MASK and not decision.counts_as_failure
    assert any(g.message_ja == "マスクを外してください。" for g in shown)


def test_a_rolled_head_is_asked_to_straighten_and_is_not_counted(
    matcher: FaceMatcher, card_face: CardFace, scene: synth.Scene, challenge: Challenge
) -> None:
    rng = np.random.default_rng(7)
    rolled = [(at, replace(pose, roll=pose.roll + 38.0)) for at, pose in synth.follow(challenge, rng)]
    decision, _ = _run(matcher, card_face, challenge, synth.film(scene, rolled, rng))
    assert decision.refusals[0].reason in {Reason.HEAD_ROLLED, Reason.FACE_THE_CAMERA}
    assert not decision.counts_as_failure
    assert decision.distance is None


def test_someone_else_does_not_match_and_counts(
    matcher: FaceMatcher, obama: Image, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    decision, _ = _run(matcher, matcher.enrol(encode_image(obama, ".jp2")), challenge, live_frames)
    assert decision.outcome == "no_match" and decision.refusals[0].reason == Reason.DIFFERENT_PERSON
    assert decision.counts_as_failure and decision.liveness is not None and decision.liveness.passed


def test_a_card_photo_without_a_face_falls_back_without_counting(
    matcher: FaceMatcher, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    blank = encode_image(np.full((192, 176, 3), 200, dtype=np.uint8), ".jp2")
    decision = matcher.verify(blank, challenge, live_frames)
    assert decision.refusals[0].reason == Reason.CARD_PHOTO_UNUSABLE and decision.should_fall_back
    assert not decision.counts_as_failure


def test_no_face_at_all_is_guidance(matcher: FaceMatcher, card_face: CardFace, challenge: Challenge) -> None:
    times = synth.frame_times(challenge, np.random.default_rng(0))
    empty = [(at, np.full((480, 640, 3), 90, np.uint8)) for at in times]
    decision, shown = _run(matcher, card_face, challenge, empty)
    assert decision.refusals[0].reason == Reason.NO_FACE and not decision.counts_as_failure
    assert shown[0].message_ja == "カメラの方を向いてください。"


def test_the_lock_counts_only_real_failures(
    matcher: FaceMatcher, card_photo: bytes, card_face: CardFace, scene: synth.Scene, challenge: Challenge
) -> None:
    card = FaceCounter(card_photo, failures=9)
    rng = np.random.default_rng(6)
    masked = synth.live_attempt(synth.with_mask(scene, rng), challenge, rng)
    session = start_attempt(matcher, card, card_face)
    for at, frame in masked:
        session.feed(frame, at)
    record_attempt(card, session.finish())
    assert card.face_failures == 9 and not card.face_locked  # the mask was guidance


def test_nothing_of_the_frames_is_kept(
    matcher: FaceMatcher, card_face: CardFace, challenge: Challenge, live_frames: list[TimedFrame]
) -> None:
    session = matcher.start(card_face, challenge)
    for at, frame in live_frames:
        session.feed(frame, at)
    decision = session.finish()
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(session).values())
    assert session._candidate is None and not session._greys
    assert not any(isinstance(getattr(decision, name), np.ndarray | bytes) for name in decision.__slots__)
