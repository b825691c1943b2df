"""Errors of batch upload."""

from __future__ import annotations

from service.core.errors import Conflict, InvalidInput, NotFound


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was used before with another body."""

    code = "idempotency_conflict"


class BatchNotFound(NotFound):
    """No such batch for this caller."""

    code = "batch_not_found"


class EmptyBody(InvalidInput):
    """A batch needs at least a header or one row."""

    code = "empty_body"


class MissingIdempotencyKey(InvalidInput):
    """Every batch upload needs an Idempotency-Key header."""

    code = "missing_idempotency_key"


class MyNumberNotAllowed(InvalidInput):
    """A header holds a My Number (個人番号), which is never accepted, stored or logged."""

    code = "my_number_not_allowed"
