"""Request and response models of consent."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from service.core.types import Timestamp
from service.verification.schemas import CardProof

Category = Literal["medication", "checkup"]


class ConsentIn(BaseModel):
    """POST /v1/consents: an empty list is a refusal (recorded as such)."""

    verification_id: UUID
    categories: list[Category] = Field(max_length=2)

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[Category]) -> list[Category]:
        if len(set(value)) != len(value):
            raise ValueError("each category at most once")
        return value


class ConsentOut(BaseModel):
    """A consent as given."""

    consent_id: str
    categories: list[Category]
    expires_at: Timestamp
    withdrawn_at: Timestamp | None = None


class WithdrawIn(CardProof):
    """POST /v1/consents/{consent_id}/withdraw: the holder's card proves the request (purpose withdraw_consent)."""
