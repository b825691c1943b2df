"""HTTP routes of the staff viewer API (JSON). The HTML pages are in service/viewer/pages.py."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.encoders import jsonable_encoder

from service.core.database import Reads
from service.core.deps import DB, ReadsDep, SettingsDep
from service.core.openapi import error_responses
from service.core.rates import Rate
from service.core.redis import RedisDep
from service.core.settings import Settings
from service.viewer import service, sessions
from service.viewer.schemas import ConsentedPatient, LoginIn, LoginOut, RecordsOut

router = APIRouter(prefix="/v1", tags=["viewer"])


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure outside development and tests."""
    response.set_cookie(
        sessions.SESSION_COOKIE, token, max_age=sessions.SESSION_SECONDS, httponly=True, samesite="strict",
        secure=settings.env == "production", path="/",
    )


async def login_guard(request: Request) -> service.LoginGuard:
    """The rate limits and password threads a login goes through."""
    settings: Settings = request.app.state.settings
    return service.LoginGuard(per_login=Rate.parse(settings.rate_limit_login),
                              per_address=Rate.parse(settings.rate_limit_login_address),
                              passwords=request.app.state.passwords)


LoginGuardDep = Annotated[service.LoginGuard, Depends(login_guard)]


def client_address(request: Request) -> str:
    """The client's address (behind a proxy, as uvicorn's --forwarded-allow-ips makes it)."""
    return request.client.host if request.client else "unknown"


@router.post("/staff/login", responses=error_responses(401, 422, 429))
async def login(
    body: LoginIn, request: Request, response: Response, conn: DB, redis: RedisDep, settings: SettingsDep,
    guard: LoginGuardDep,
) -> LoginOut:
    """Log in; the session cookie is set, the CSRF token returned. Wrong passwords are rate limited (429)."""
    token, session = await service.login(conn, redis, login=body.login, password=body.password,
                                         client_address=client_address(request), guard=guard)
    set_session_cookie(response, token, settings)
    return LoginOut(staff_id=session.staff_id, role=session.role, facility_code=session.facility_code,
                    csrf_token=session.csrf_token)


@router.post("/staff/logout", responses=error_responses(401, 403))
async def logout(request: Request, response: Response, redis: RedisDep, staff: sessions.StaffAuth) -> dict[str, str]:
    """Log out (needs the X-CSRF-Token header)."""
    sessions.check_csrf(staff, request.headers.get(sessions.CSRF_HEADER))
    await sessions.end(redis, request.cookies.get(sessions.SESSION_COOKIE))
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return {"status": "logged_out"}


@router.get("/viewer/consents", responses=error_responses(401, 403))
async def consents(conn: DB, staff: sessions.StaffAuth) -> list[ConsentedPatient]:
    """Consents live now at the staff member's facility."""
    return [ConsentedPatient(**p) for p in await service.consented_patients(conn, staff=staff)]


async def _records(conn: DB, reads: Reads, staff: sessions.StaffSession, consent_id: UUID, category: str,
                   settings: Settings) -> RecordsOut:
    found = await service.view(conn, reads=reads, staff=staff, consent_id=consent_id, category=category,
                               pharmacy_checkups=settings.checkup_at_pharmacies)
    return RecordsOut(category=category, since=found.since, records=jsonable_encoder(found.records))


@router.get("/viewer/consents/{consent_id}/medications", responses=error_responses(401, 403, 404, 410))
async def medications(
    consent_id: UUID, conn: DB, reads: ReadsDep, staff: sessions.StaffAuth, settings: SettingsDep
) -> RecordsOut:
    """Dispensed medication of the past 3 years (薬剤情報)."""
    return await _records(conn, reads, staff, consent_id, "medication", settings)


@router.get("/viewer/consents/{consent_id}/checkups", responses=error_responses(401, 403, 404, 410))
async def checkups(
    consent_id: UUID, conn: DB, reads: ReadsDep, staff: sessions.StaffAuth, settings: SettingsDep
) -> RecordsOut:
    """Specific health checkup results of the past 5 years (特定健診)."""
    return await _records(conn, reads, staff, consent_id, "checkup", settings)
