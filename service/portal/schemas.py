"""Request and response models of the holder portal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from service.consent.schemas import Category
from service.portal.sessions import Access


class SessionOut(BaseModel):
    """A portal session: the bearer token for the holder's agent (never for a page) and what it may read."""

    session_token: str
    expires_at: str
    access: Access


class CoverageItem(BaseModel):
    """One linked eligibility record (its current version)."""

    insurer_number: str
    insurer_name: str
    symbol: str
    number: str
    branch: str
    holder_kind: int
    qualified_on: str
    disqualified_on: str | None
    copay_ratio: int
    limit_category: str | None


class EligibilityOut(BaseModel):
    """Eligibility today (the real system's validity code and the record that answers) and every linked record."""

    as_of: str
    validity_code: int
    current: CoverageItem | None
    history: list[CoverageItem]


class RecordsOut(BaseModel):
    """The holder's medication (3 years) or checkup (5 years) records, newest first."""

    since: str
    records: list[dict[str, Any]]


class ConsentItem(BaseModel):
    """A consent the holder gave, and its state now."""

    consent_id: str
    facility_code: str
    facility_name: str
    categories: list[Category]
    given_at: str
    expires_at: str
    withdrawn_at: str | None
    state: Literal["active", "expired", "withdrawn"]


class ConsentsOut(BaseModel):
    """The holder's consents, newest first."""

    consents: list[ConsentItem]
