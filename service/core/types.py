"""Shared field types of request models (plain pydantic; query parameters are in service.core.deps)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema


class Base64Str(str):
    """A string found to be standard base64, holding the bytes that check decoded (`decoded`)."""

    decoded: bytes


def _strict_base64(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (standard alphabet, padded)") from None
    checked = Base64Str(value)
    checked.decoded = decoded
    return checked


Base64Text = Annotated[str, AfterValidator(_strict_base64)]
"""A string that is valid standard base64; `base64_bytes` gives its bytes without decoding it again (a card's
certificate and signature were decoded twice per verification: 3 % of its instructions)."""


def base64_bytes(value: str) -> bytes:
    """The bytes of a Base64Text field: those its validation decoded, else (a model built without validation)
    decoded now."""
    return value.decoded if isinstance(value, Base64Str) else base64.b64decode(value)


def _rfc3339(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A timestamp of an answer: RFC 3339 with its offset as the contract shows it (`+00:00`; pydantic would write
`Z` for UTC), microseconds only when there are some."""
