"""Shared field types of request models (plain pydantic; query parameters are in service.core.deps)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema


def _strict_base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (standard alphabet, padded)") from None
    return value


Base64Text = Annotated[str, AfterValidator(_strict_base64)]
"""A string that is valid standard base64 (decoded by the model's own accessor)."""

def _rfc3339(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A timestamp of an answer: RFC 3339 with its offset as the contract shows it (`+00:00`; pydantic would write
`Z` for UTC), microseconds only when there are some."""
