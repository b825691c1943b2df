"""Errors of the accounts domain."""

from __future__ import annotations

from service.core.errors import Conflict, InvalidInput, NotFound


class FacilityNotFound(NotFound):
    """No facility with this code."""

    code = "facility_not_found"


class InsurerNotFound(NotFound):
    """No insurer with this number (or not the caller's)."""

    code = "insurer_not_found"


class AlreadyExists(Conflict):
    """A facility, insurer or login with this key exists already."""

    code = "already_exists"


class InvalidInsurerNumber(InvalidInput):
    """Not 6 or 8 digits with a correct check digit."""

    code = "invalid_insurer_number"
