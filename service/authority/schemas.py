"""Request and response models of the authority API."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.core.identifiers import contains_my_number
from service.core.types import Base64Text, Timestamp, base64_bytes


class IdentityAttributes(BaseModel):
    """The five identity attributes the authority holds for a card holder."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name_kanji: str = Field(min_length=1, max_length=50)
    name_kana: str = Field(min_length=1, max_length=100)
    birthdate: date
    sex: Literal[1, 2]
    address: str = Field(min_length=1, max_length=200)

    @field_validator("name_kanji", "name_kana", "address")
    @classmethod
    def _no_my_number(cls, value: str) -> str:
        if contains_my_number(value):
            raise ValueError("a My Number (個人番号) must never be sent: remove it")
        return unicodedata.normalize("NFC", value)

    @field_validator("birthdate")
    @classmethod
    def _plausible_birthdate(cls, value: date) -> date:
        if value < date(1900, 1, 1):
            raise ValueError("birthdate before 1900-01-01")
        return value


class HolderIn(IdentityAttributes):
    """POST /v1/authority/holders."""

    certificate: Base64Text = Field(description="base64 DER of the issued user certificate")

    def certificate_der(self) -> bytes:
        """The certificate bytes."""
        return base64_bytes(self.certificate)


class HolderOut(BaseModel):
    """The registered certificate."""

    serial: str
    not_after: Timestamp
    status: str


class StatusChangeIn(BaseModel):
    """POST /v1/authority/certificates/{serial}/suspend|release|revoke."""

    reason: str | None = Field(
        default=None, max_length=40,
        description="an X.509 reason code name: certificateHold (suspend, default), removeFromCRL (release, "
        "default), unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, "
        "privilegeWithdrawn (revoke)",
    )


class CertificateOut(BaseModel):
    """A certificate's state after a change."""

    serial: str
    status: Literal["active", "suspended", "revoked"]
    status_reason: str | None
    replaced_by: str | None


class RenewalIn(BaseModel):
    """POST /v1/authority/renewals."""

    old_serial: str = Field(pattern=r"^[1-9][0-9]{0,59}$")
    certificate: Base64Text

    def certificate_der(self) -> bytes:
        """The new certificate's bytes."""
        return base64_bytes(self.certificate)


class RenewalOut(BaseModel):
    """Old serial -> new serial."""

    old_serial: str
    serial: str
