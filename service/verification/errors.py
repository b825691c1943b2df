"""Errors of card verification."""

from __future__ import annotations

from service.core.errors import Conflict, InvalidInput


class ChallengeNotUsable(Conflict):
    """Unknown, already used, or made for another terminal or purpose."""

    code = "challenge_not_usable"


class ChallengeExpired(Conflict):
    """Older than its lifetime."""

    code = "challenge_expired"


class UnknownCertificate(InvalidInput):
    """Signed by the authority but not on its records."""

    code = "unknown_certificate"


class PresenceNotEstablished(InvalidInput):
    """A face match without a passed liveness check, or without its distance."""

    code = "presence_not_established"


class CertificateNotUsable(Conflict):
    """Registration and unlinking need a valid (not revoked, suspended or expired) certificate."""

    code = "certificate_not_usable"
