"""Request and response models of the staff viewer API."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from service.core.types import Timestamp


class LoginIn(BaseModel):
    """POST /v1/staff/login."""

    login: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class LoginOut(BaseModel):
    """The session's owner and the CSRF token to send (X-CSRF-Token) with state-changing requests."""

    staff_id: str
    role: str
    facility_code: str
    csrf_token: str


class ConsentedPatient(BaseModel):
    """A patient with a live consent at this facility."""

    consent_id: str
    name_kanji: str
    name_kana: str
    birthdate: date
    categories: list[str]
    given_at: Timestamp
    expires_at: Timestamp


class RecordsOut(BaseModel):
    """One category of records, oldest date served first in `since`."""

    category: str
    since: date
    records: list[dict[str, Any]]
