"""Errors of consent."""

from __future__ import annotations

from service.core.errors import Conflict, Gone, NotFound


class VerificationNotFound(NotFound):
    """No such verification at this facility."""

    code = "verification_not_found"


class ConsentNotAllowed(Conflict):
    """Not from this terminal, too late, given already, or viewing is not allowed for this check."""

    code = "consent_not_allowed"


class ConsentNotFound(NotFound):
    """No such consent at this facility (or for this card)."""

    code = "consent_not_found"


class ConsentGone(Gone):
    """The consent expired or was withdrawn."""

    code = "consent_gone"
