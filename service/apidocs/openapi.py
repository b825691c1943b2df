"""The OpenAPI document with what "Authorize" and "Try it out" need: security schemes per kind of caller, and
examples on the main endpoints. The routes stay as they are; the schemes are attached by tag and path."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SCHEMES: dict[str, dict[str, Any]] = {
    "TerminalToken": {"type": "http", "scheme": "bearer", "description": "A reception terminal's token (ont_…)"},
    "InsurerToken": {"type": "http", "scheme": "bearer", "description": "An insurer's token (oni_…)"},
    "OperatorToken": {"type": "http", "scheme": "bearer", "description": "The authority operator's token (ono_…)"},
    "ClaimsToken": {"type": "http", "scheme": "bearer", "description": "A claims processor's token (onc_…)"},
    "StaffSession": {
        "type": "apiKey", "in": "cookie", "name": "onshi_session",
        "description": "Set by POST /v1/staff/login (HttpOnly: the browser sends it by itself once logged in)",
    },
    "PortalSession": {
        "type": "http", "scheme": "bearer",
        "description": "A holder's portal session (onh_…), from POST /v1/portal/sessions (kept by the card agent)",
    },
    "CsrfToken": {
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "The csrf_token of the login answer, on state-changing staff requests",
    },
}
_BY_TAG: dict[str, list[dict[str, list[str]]]] = {
    "terminal": [{"TerminalToken": []}],
    "insurer": [{"InsurerToken": []}],
    "claims": [{"ClaimsToken": []}],
    "authority": [{"OperatorToken": []}],
    "viewer": [{"StaffSession": []}],
    "fhir": [{"StaffSession": []}, {"TerminalToken": []}],
    "portal": [{"PortalSession": []}],
}
_PROOF = {"challenge_id": "3f1c…(from POST /v1/challenges)", "certificate": "MIIC…(base64 DER)",
          "signature": "kX9…(base64 RSA PKCS#1 v1.5 SHA-256 over the nonce bytes)"}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/challenges", "post"): {"purpose": "verify"},
    ("/v1/verifications", "post"): {**_PROOF, "presence": {"method": "pin"}},
    ("/v1/consents", "post"): {"verification_id": "6f0e4a9c-2b7d-4c1e-9a51-0d7d2f6c1b3a",
                               "categories": ["medication", "checkup"]},
    ("/v1/registrations", "post"): _PROOF,
    ("/v1/me/access-log", "post"): _PROOF,
    ("/v1/staff/login", "post"): {"login": "clinic-doctor", "password": "onshi-demo-pass"},
    ("/v1/authority/certificates/{serial}/{action}", "post"): {"reason": "certificateHold"},
}
_PUBLIC = {("/v1/staff/login", "post"), ("/v1/portal/challenges", "post"), ("/v1/portal/sessions", "post")}
_CSRF = {("/v1/staff/logout", "post")}


def _secure(path: str, method: str, operation: dict[str, Any]) -> None:
    if (path, method) in _PUBLIC:
        operation["security"] = []
        return
    for tag in operation.get("tags", []):
        if tag in _BY_TAG:
            operation["security"] = _BY_TAG[tag]
    if (path, method) in _CSRF:
        operation["security"] = [{"StaffSession": [], "CsrfToken": []}]


def _example(path: str, method: str, operation: dict[str, Any]) -> None:
    example = EXAMPLES.get((path, method))
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if example is not None and content is not None:
        content["example"] = example


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with security schemes and examples (built once, then cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = SCHEMES
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _secure(path, method, operation)
            _example(path, method, operation)
    app.openapi_schema = schema
    return schema
