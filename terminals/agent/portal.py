"""The holder portal's API for its page: sign in with the card, then the holder's own data through the service.

The agent keeps the service's portal session token in memory (`Portal.token`): the page never sees it, nor the
card's signature. One holder per agent (it runs on the holder's own computer, with their card); signing out,
a new sign-in or the session's end (10 minutes, the service decides) forget it.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from terminals.agent import reader
from terminals.agent.errors import AgentError, from_card, from_service
from terminals.reception import ServiceError, ServiceUnavailable, UnexpectedAnswer
from virtualcard import CardError

_SECTIONS = {"eligibility": "/eligibility", "medications": "/medications", "checkups": "/checkups",
             "consents": "/consents", "access-log": "/access-log"}


class SignInIn(BaseModel):
    """The PIN typed on the page: it goes to the card, nowhere else."""

    pin: str = Field(pattern=r"^[0-9]{4}$")


@dataclass
class Portal:
    """The holder's card (a file path: read afresh at every sign-in) and the session, if signed in."""

    http: httpx.Client
    card_path: Path
    token: str | None = field(default=None, repr=False)
    access: str | None = None

    def call(self, method: str, path: str) -> dict[str, Any]:
        """A portal request with the session; a 401 ends the session here too."""
        if self.token is None:
            raise AgentError(401, "signed_out", "カードでログインしてください。")
        headers = {"Authorization": f"Bearer {self.token}"}
        return _answer(self._send(method, f"/v1/portal{path}", headers=headers), on_401=self.forget)

    def forget(self) -> None:
        """Drop the session."""
        self.token, self.access = None, None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Request-ID": str(uuid.uuid4()), **kwargs.pop("headers", {})}
        try:
            return self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise from_service(ServiceUnavailable(attempts=1, reason=type(exc).__name__)) from None

    def sign_in(self, pin: str) -> dict[str, Any]:
        """A portal challenge signed by the card after its PIN check, exchanged for a session."""
        self.forget()
        card = reader.load(self.card_path)
        challenge = _answer(self._send("POST", "/v1/portal/challenges"))
        try:
            signature = card.sign(base64.b64decode(str(challenge.get("nonce", ""))), pin=pin)
        except CardError as exc:
            raise from_card(exc) from None
        proof = {"challenge_id": challenge.get("challenge_id"),
                 "certificate": base64.b64encode(card.certificate_der).decode(),
                 "signature": base64.b64encode(signature).decode()}
        session = _answer(self._send("POST", "/v1/portal/sessions", json=proof))
        self.token, self.access = str(session["session_token"]), str(session["access"])
        return {"access": self.access, "expires_at": session.get("expires_at")}


def _answer(response: httpx.Response, *, on_401: Any = None) -> dict[str, Any]:
    if response.status_code == 401 and on_401 is not None:
        on_401()
        raise AgentError(401, "signed_out", "ログインの有効期限が切れました。もう一度カードでログインしてください。")
    if response.is_error:
        raise from_service(ServiceError(response))
    if response.status_code == 204:
        return {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise from_service(UnexpectedAnswer("not a JSON object"))
    return body


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


router = APIRouter(prefix="/api/portal")


@router.post("/sign-in")
def sign_in(body: SignInIn, request: Request) -> dict[str, Any]:
    """Sign in with the card and its PIN."""
    return _portal(request).sign_in(body.pin)


@router.post("/sign-out", status_code=204)
def sign_out(request: Request) -> None:
    """End the session at the service and forget it here."""
    portal = _portal(request)
    if portal.token is not None:
        try:
            portal.call("DELETE", "/sessions")
        except AgentError:
            pass  # forgotten here whatever the service answered (unreachable: it ends there by itself)
    portal.forget()


@router.get("/session")
def session(request: Request) -> dict[str, Any]:
    """Whether the holder is signed in, and to read what."""
    portal = _portal(request)
    return {"signed_in": portal.token is not None, "access": portal.access}


@router.get("/{section}")
def section(section: str, request: Request) -> dict[str, Any]:
    """One section of the holder's data: eligibility, medications, checkups, consents, access-log."""
    if section not in _SECTIONS:
        raise AgentError(404, "not_found", "そのページはありません。")
    return _portal(request).call("GET", _SECTIONS[section])


@router.post("/consents/{consent_id}/withdraw")
def withdraw(consent_id: UUID, request: Request) -> dict[str, Any]:
    """Withdraw one of the holder's consents."""
    return _portal(request).call("POST", f"/consents/{consent_id}/withdraw")
