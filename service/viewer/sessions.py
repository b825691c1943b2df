"""Staff sessions in Redis, referenced by an HttpOnly SameSite cookie; a CSRF token per session."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.core.errors import Forbidden, Unauthorized
from service.core.middleware import note_principal
from service.core.redis import RedisClient, get_redis

SESSION_COOKIE = "onshi_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 8 * 3600  # one working day; a new login after that
_KEY = "onshi:session:{}"


@dataclass(frozen=True, slots=True)
class StaffSession:
    """Who is logged in, from where, in what role."""

    staff_id: str
    login: str
    facility_code: str
    facility_type: str
    facility_name: str
    role: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the staff member is named in audit entries."""
        return f"staff:{self.staff_id}"


async def create(redis: RedisClient, **fields: str) -> tuple[str, StaffSession]:
    """A new session; returns (cookie value, session)."""
    token = secrets.token_urlsafe(32)
    session = StaffSession(csrf_token=secrets.token_urlsafe(32), **fields)
    await redis.set(_KEY.format(token), json.dumps(asdict(session)), ex=SESSION_SECONDS)
    return token, session


async def load(redis: RedisClient, token: str | None) -> StaffSession | None:
    """The session of a cookie value, if it is live."""
    if not token or len(token) > 100:
        return None
    raw = await redis.get(_KEY.format(token))
    return None if raw is None else StaffSession(**json.loads(raw))


async def end(redis: RedisClient, token: str | None) -> None:
    """Log out."""
    if token:
        await redis.delete(_KEY.format(token))


def check_csrf(session: StaffSession, supplied: str | None) -> None:
    """State-changing requests carry the session's CSRF token (header or form field)."""
    if not supplied or not hmac.compare_digest(supplied.encode(), session.csrf_token.encode()):
        raise Forbidden("missing or wrong CSRF token")


async def current_staff(request: Request) -> StaffSession:
    """The logged-in staff member (401 without a live session)."""
    session = await load(get_redis(request), request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise Unauthorized("log in first")
    note_principal(request.scope, "staff")
    return session


StaffAuth = Annotated[StaffSession, Depends(current_staff)]
