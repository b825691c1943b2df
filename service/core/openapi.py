"""Shared OpenAPI declarations: the contract's error body for every declared error status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Bad request", 401: "Missing or invalid credential", 403: "Authenticated but not allowed",
    404: "Unknown resource of this caller", 409: "State conflict", 410: "Expired or withdrawn",
    413: "Body too large", 415: "Wrong media type", 422: "Invalid input", 429: "Rate limited",
}


class ErrorBody(BaseModel):
    """The contract's error body."""

    error: str
    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the error body."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}
