"""One error base class for the whole service: each domain error carries its HTTP status and code.

The single exception handler in `service.app` renders every `OnshiError` as the contract's body
`{"error": "<code>", "detail": "<human readable>"}`. Anything else is a bug and stays a 500.
"""

from __future__ import annotations

from typing import ClassVar


class OnshiError(Exception):
    """Base of all domain errors; subclasses set `status` and `code`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class Unauthorized(OnshiError):
    """Missing or invalid credential (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(OnshiError):
    """Authenticated but not allowed (403)."""

    status = 403
    code = "forbidden"


class NotFound(OnshiError):
    """Unknown resource of this caller (404): also used for other tenants' resources."""

    status = 404
    code = "not_found"


class Conflict(OnshiError):
    """State conflict (409)."""

    status = 409
    code = "conflict"


class Gone(OnshiError):
    """The resource existed but no longer may be used (410)."""

    status = 410
    code = "gone"


class PayloadTooLarge(OnshiError):
    """Body over the configured limit (413)."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(OnshiError):
    """Wrong Content-Type (415)."""

    status = 415
    code = "unsupported_media_type"


class InvalidInput(OnshiError):
    """Input that fails validation (422)."""

    status = 422
    code = "invalid_input"


class RateLimited(OnshiError):
    """Too many requests (429); carries Retry-After."""

    status = 429
    code = "rate_limited"


class ServiceBusy(OnshiError):
    """The service sheds this work for a moment (503); carries Retry-After."""

    status = 503
    code = "service_busy"
