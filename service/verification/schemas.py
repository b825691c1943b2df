"""Request and response models of the terminal API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from service.core.types import Base64Text, Timestamp, base64_bytes
from service.verification.challenges import PURPOSES

Purpose = Literal["verify", "register", "unregister", "access_log", "withdraw_consent"]
assert set(PURPOSES) == {"verify", "register", "unregister", "access_log", "withdraw_consent"}


class ChallengeIn(BaseModel):
    """POST /v1/challenges."""

    purpose: Purpose


class ChallengeOut(BaseModel):
    """A single-use nonce for the card to sign."""

    challenge_id: str
    nonce: str = Field(description="base64 of the raw bytes the card signs")
    expires_at: Timestamp


class CardProof(BaseModel):
    """The card's answer to a challenge."""

    challenge_id: str = Field(max_length=64)
    certificate: Base64Text = Field(max_length=8192, description="base64 DER of the card's user certificate")
    signature: Base64Text = Field(max_length=2048, description="base64 RSA PKCS#1 v1.5 SHA-256 over the nonce bytes")

    def certificate_der(self) -> bytes:
        """The certificate bytes."""
        return base64_bytes(self.certificate)

    def signature_bytes(self) -> bytes:
        """The signature bytes."""
        return base64_bytes(self.signature)


class Presence(BaseModel):
    """How the holder's presence was established at the terminal."""

    method: Literal["face", "pin", "visual"]
    face_distance: float | None = Field(default=None, ge=0, le=2)
    liveness_passed: bool | None = None

    @model_validator(mode="after")
    def _face_fields(self) -> Presence:
        if self.method != "face" and (self.face_distance is not None or self.liveness_passed is not None):
            raise ValueError("face_distance and liveness_passed belong to the face method only")
        return self


class VerificationIn(CardProof):
    """POST /v1/verifications."""

    presence: Presence
    as_of: date | None = None


class CertificateInfo(BaseModel):
    """The card's certificate as the check saw it."""

    serial: str
    not_after: Timestamp
    status: Literal["valid", "expired_grace", "expired", "revoked", "suspended"]


class CoverageOut(BaseModel):
    """The eligibility record a check found (its current version), as the contract shows it."""

    insurer_number: str
    symbol: str
    number: str
    branch: str
    holder_kind: int = Field(description="1 本人 (the insured), 2 家族 (a dependant)")
    name_kanji: str
    name_kana: str
    birthdate: date
    sex: int = Field(description="1 male, 2 female")
    qualified_on: date
    disqualified_on: date | None = Field(description="資格喪失日: the first day not covered")
    copay_ratio: int
    limit_category: str | None


class VerificationOut(BaseModel):
    """The answer of a check."""

    verification_id: str
    result: Literal["eligible", "not_eligible", "not_registered", "certificate_revoked",
                    "certificate_suspended", "certificate_expired"]
    validity_code: int | None
    coverage: CoverageOut | None
    certificate: CertificateInfo
    viewing_allowed: bool
    as_of: date


class RegistrationOut(BaseModel):
    """The outcome of 利用登録."""

    status: Literal["linked", "needs_review", "no_match", "ambiguous", "already_linked"]
    coverage: CoverageOut | None = None


class UnlinkOut(BaseModel):
    """The outcome of 利用登録解除."""

    status: Literal["unlinked"]


class AccessLogEntry(BaseModel):
    """One view of the holder's data."""

    at: Timestamp
    facility_code: str
    facility_name: str
    role: str
    category: str


class AccessLogOut(BaseModel):
    """Every view of the holder's data, across certificate renewals."""

    entries: list[AccessLogEntry]
