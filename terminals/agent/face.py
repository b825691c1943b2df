"""The kiosk's face check: the page sends the camera's frames, the agent matches them against the card's photo
with facematch's active liveness, locally (as a real face-recognition card reader's own software does).

The challenge is random (the OS's randomness) unless the agent was started with `--face-demo-seed N`, a setting
for demos and tests only: with it every attempt draws the same challenge, so a video made beforehand for that
seed can answer it. That is exactly what the liveness check exists to refuse, so the seed is never on by
default and the agent says so at start. A failed attempt counts on the card (10 in a row lock face matching,
`facematch.record_attempt`), and the page falls back to the PIN.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from terminals.agent.errors import AgentError
from terminals.agent.kiosk import Kiosk, KioskVisit, run_check
from terminals.reception import Presence

if TYPE_CHECKING:
    from facematch import CardFace, FaceMatcher, FaceSession

MAX_FRAME_BYTES = 512 * 1024  # a 640x480 JPEG is far smaller


@dataclass
class FaceDesk:
    """The matcher (made on first use: facematch and its models are an optional install) and the demo seed."""

    demo_seed: int | None = None
    _matcher: FaceMatcher | None = field(default=None, repr=False)

    def matcher(self) -> FaceMatcher:
        """facematch's matcher (503 face_unavailable when it cannot run here)."""
        if self._matcher is None:
            try:
                import facematch
            except ImportError:
                raise unavailable("facematch is not installed") from None
            try:
                self._matcher = facematch.FaceMatcher()
            except facematch.FaceMatchError as exc:
                raise unavailable(str(exc)) from None
        return self._matcher

    def rng(self) -> random.Random | None:
        """The demo seed's generator, or None for the OS's randomness."""
        return None if self.demo_seed is None else random.Random(self.demo_seed)


def unavailable(reason: str) -> AgentError:
    """Face matching cannot run here: the page falls back to the PIN."""
    return AgentError(503, "face_unavailable", f"顔認証を使えません: {reason}")


@dataclass
class FaceAttempt:
    """One attempt of the visit: the enrolled card photo and the running session."""

    card_face: CardFace
    session: FaceSession | None = None


def _kiosk(request: Request) -> Kiosk:
    kiosk: Kiosk = request.app.state.kiosk
    return kiosk


def _desk(request: Request) -> FaceDesk:
    desk: FaceDesk = request.app.state.face
    return desk


def _attempt(visit: KioskVisit) -> FaceAttempt:
    attempt: FaceAttempt | None = visit.face
    if attempt is None or attempt.session is None:
        raise AgentError(409, "no_face_attempt", "顔認証を始めてください。")
    return attempt


router = APIRouter(prefix="/api/kiosk/face")


@router.post("/start")
def start(request: Request) -> dict[str, Any]:
    """A new attempt with a new challenge: the prompts and their times, for the page to show."""
    import facematch

    desk, visit = _desk(request), _kiosk(request).current()
    if visit.card.face_locked:
        raise AgentError(423, "face_locked", "顔認証が10回続けて失敗したため、このカードの顔認証はロックされています。")
    matcher = desk.matcher()
    try:
        card_face = visit.face.card_face if visit.face else matcher.enrol(visit.card.face_image)
    except facematch.FaceMatchError as exc:
        raise unavailable(str(exc)) from None
    if not card_face.usable:
        raise AgentError(422, "card_photo_unusable", "カードの顔写真を顔認証に使えません。")
    session = matcher.start(card_face, matcher.draw(desk.rng()))
    visit.face = FaceAttempt(card_face=card_face, session=session)
    prompts = [{"text": p.texts[1], "start": p.start, "end": p.end} for p in session.challenge.prompts]
    return {"prompts": prompts, "duration": session.challenge.duration}


@router.post("/frame")
async def frame(request: Request, at: float = Query(ge=0, le=60)) -> dict[str, Any]:
    """One camera frame (JPEG), taken `at` seconds after the start; the line to show now."""
    import facematch

    data = await request.body()
    if not data or len(data) > MAX_FRAME_BYTES:
        raise AgentError(422, "invalid_input", "カメラの画像を読み取れません。")
    attempt = _attempt(_kiosk(request).current())
    assert attempt.session is not None
    try:
        image = await run_in_threadpool(facematch.decode_image, data)
    except facematch.DecodeError:
        raise AgentError(422, "invalid_input", "カメラの画像を読み取れません。") from None
    guidance = await run_in_threadpool(attempt.session.feed, image, at)  # CPU work off the event loop
    return {"text": guidance.texts[1], "done": guidance.done}


@router.post("/finish")
def finish(request: Request) -> dict[str, Any]:
    """The decision: on a match the eligibility check follows; otherwise the reason, and the PIN is next."""
    import facematch

    kiosk = _kiosk(request)
    visit = kiosk.current()
    attempt = _attempt(visit)
    assert attempt.session is not None
    decision = attempt.session.finish()
    attempt.session = None
    facematch.record_attempt(visit.card, decision)
    if not decision.matched:
        reason = decision.refusals[0].texts[1] if decision.refusals else "顔認証できませんでした。"
        return {"matched": False, "reason": reason, "face_locked": visit.card.face_locked}
    return {"matched": True, "result": run_check(kiosk, visit, Presence.from_face(decision))}
