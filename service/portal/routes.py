"""HTTP routes of the holder portal (called by the holder's local card agent, `terminals.agent`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from service.authority.deps import AuthorityDep
from service.core.deps import DB, ReadsDep
from service.core.openapi import error_responses
from service.core.redis import RedisDep
from service.portal import service, sessions
from service.portal.schemas import ConsentsOut, EligibilityOut, RecordsOut, SessionOut
from service.verification.challenges import ChallengesDep
from service.verification.schemas import AccessLogOut, CardProof, ChallengeOut
from service.viewer.routes import client_address

router = APIRouter(prefix="/v1/portal", tags=["portal"])
_SESSION_ERRORS = error_responses(401, 403)
Address = Annotated[str, Depends(client_address)]


@router.post("/challenges", status_code=201, responses=error_responses(422, 429))
async def create_challenge(challenges: ChallengesDep, address: Address) -> ChallengeOut:
    """A single-use nonce for the card to sign in with, bound to the asking address."""
    challenge = await service.issue_challenge(challenges, client_address=address)
    return ChallengeOut(challenge_id=challenge.challenge_id, nonce=challenge.nonce_b64,
                        expires_at=challenge.expires_at.isoformat())


@router.post("/sessions", status_code=201, responses=error_responses(409, 422))
async def sign_in(
    body: CardProof, conn: DB, redis: RedisDep, challenges: ChallengesDep, authority: AuthorityDep, address: Address
) -> SessionOut:
    """Sign in with the card: a valid certificate reads everything, an expired one the access log only."""
    return await service.sign_in(conn, redis, challenges, authority=authority, proof=body, client_address=address)


@router.delete("/sessions", status_code=204, responses=_SESSION_ERRORS)
async def sign_out(request: Request, redis: RedisDep) -> Response:
    """End the session now (it also ends by itself after 10 minutes)."""
    await sessions.end(redis, sessions.bearer(request))
    return Response(status_code=204)


@router.get("/eligibility", responses=_SESSION_ERRORS)
async def eligibility(holder: sessions.HolderAuth, conn: DB) -> EligibilityOut:
    """Eligibility today and every linked record (insurer, dates, copay)."""
    return await service.eligibility(conn, holder=holder)


@router.get("/medications", responses=_SESSION_ERRORS)
async def medications(holder: sessions.HolderAuth, conn: DB, reads: ReadsDep) -> RecordsOut:
    """The holder's dispensed medication of the last 3 years."""
    return await service.records(conn, reads=reads, holder=holder, category="medication")


@router.get("/checkups", responses=_SESSION_ERRORS)
async def checkups(holder: sessions.HolderAuth, conn: DB, reads: ReadsDep) -> RecordsOut:
    """The holder's checkups of the last 5 years."""
    return await service.records(conn, reads=reads, holder=holder, category="checkup")


@router.get("/consents", responses=_SESSION_ERRORS)
async def consents(holder: sessions.HolderAuth, conn: DB) -> ConsentsOut:
    """The holder's consents: active, expired and withdrawn."""
    return await service.consents(conn, holder=holder)


@router.post("/consents/{consent_id}/withdraw", responses=error_responses(401, 403, 404))
async def withdraw(consent_id: UUID, holder: sessions.HolderAuth, conn: DB) -> ConsentsOut:
    """Withdraw one of the holder's consents; answers the consents as they are now."""
    return await service.withdraw(conn, holder=holder, consent_id=consent_id)


@router.get("/access-log", responses=_SESSION_ERRORS)
async def access_log(holder: sessions.HolderAuth, conn: DB, reads: ReadsDep) -> AccessLogOut:
    """Who viewed the holder's data: when, which facility, which role, which category."""
    return await service.access_log(conn, reads=reads, holder=holder)
