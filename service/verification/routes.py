"""HTTP routes of the reception terminal."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.core.deps import DB
from service.core.lane import DirectRoute
from service.core.openapi import error_responses
from service.verification import service
from service.verification.context import ReceptionDep, reception
from service.verification.schemas import (
    AccessLogOut,
    CardProof,
    ChallengeIn,
    ChallengeOut,
    RegistrationOut,
    UnlinkOut,
    VerificationIn,
    VerificationOut,
)

router = APIRouter(prefix="/v1", tags=["terminal"])
_PROOF_ERRORS = error_responses(401, 403, 409, 422)


@router.post("/challenges", status_code=201, responses=error_responses(401, 403, 422))
async def create_challenge(body: ChallengeIn, desk: ReceptionDep) -> ChallengeOut:
    """A single-use nonce for the card to sign, bound to this terminal and purpose."""
    challenge = await desk.challenges.issue(terminal_id=desk.terminal.terminal_id, purpose=body.purpose)
    return ChallengeOut(challenge_id=challenge.challenge_id, nonce=challenge.nonce_b64,
                        expires_at=challenge.expires_at)


@router.post("/verifications", responses=_PROOF_ERRORS)
async def verify(body: VerificationIn, desk: ReceptionDep) -> VerificationOut:
    """Check the card holder's eligibility (資格確認)."""
    return await service.verify(desk.pool, desk.challenges, authority=desk.authority, terminal=desk.terminal,
                                body=body)


@router.post("/registrations", responses=_PROOF_ERRORS)
async def register(body: CardProof, desk: ReceptionDep, conn: DB) -> RegistrationOut:
    """Register the card for insurance use (利用登録) by the holder's own signed request."""
    return await service.register(conn, desk.challenges, authority=desk.authority, terminal=desk.terminal,
                                  proof=body)


@router.post("/registrations/unlink", responses=_PROOF_ERRORS)
async def unlink(body: CardProof, desk: ReceptionDep, conn: DB) -> UnlinkOut:
    """Remove the card's insurance use (利用登録解除) by the holder's own signed request."""
    await service.unregister(conn, desk.challenges, authority=desk.authority, terminal=desk.terminal, proof=body)
    return UnlinkOut(status="unlinked")


@router.post("/me/access-log", responses=_PROOF_ERRORS)
async def access_log(body: CardProof, desk: ReceptionDep, conn: DB) -> AccessLogOut:
    """Who viewed the holder's data (the holder's own card proves the request)."""
    return await service.access_log(conn, desk.challenges, reads=desk.reads, authority=desk.authority,
                                    terminal=desk.terminal,
                                    proof=body)


async def _direct_challenge(request: Request, body: ChallengeIn) -> ChallengeOut:
    return await create_challenge(body, await reception(request))


async def _direct_verify(request: Request, body: VerificationIn) -> VerificationOut:
    return await verify(body, await reception(request))


DIRECT_ROUTES = (
    DirectRoute("/v1/challenges", ChallengeIn, _direct_challenge, status_code=201),
    DirectRoute("/v1/verifications", VerificationIn, _direct_verify),
)
"""The two requests of every reception check, served by the direct lane (service.core.lane) with these routes'
own functions and models; the routes above declare them (OpenAPI) and serve them when the lane is off."""
