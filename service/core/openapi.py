"""Shared OpenAPI declarations: the contract's error body for every declared error status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
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


def use_error_body_for_validation(app: FastAPI) -> None:
    """Document 422 with the contract's error body on every operation (the service never sends FastAPI's
    HTTPValidationError: `service.app` renders validation errors as `{"error": "invalid_input", "detail"}`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if "422" in operation.get("responses", {}):
                    operation["responses"]["422"] = {
                        "description": _DESCRIPTIONS[422],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                    }
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
