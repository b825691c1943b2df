"""Errors of the FHIR views (rendered as OperationOutcome by the FHIR routes)."""

from __future__ import annotations

from service.core.errors import NotFound, OnshiError


class InvalidSearch(OnshiError):
    """A search parameter that is missing, unknown or malformed (FHIR answers these with 400)."""

    status = 400
    code = "invalid_search"


class ResourceNotFound(NotFound):
    """No such resource for this caller (another facility's resources are not found either)."""

    code = "resource_not_found"


class NoCoverage(NotFound):
    """The verification found no eligibility record, so it has no Coverage."""

    code = "no_coverage"

