"""Errors of the certificate authority: certificate checks (422), unknown serial (404), state clash (409)."""

from __future__ import annotations

from service.core.errors import Conflict, InvalidInput, NotFound


class UntrustedCertificate(InvalidInput):
    """The certificate was not issued by this authority, or is not a card user certificate."""

    code = "untrusted_certificate"


class MalformedCertificate(InvalidInput):
    """The bytes are not a parseable X.509 DER certificate."""

    code = "malformed_certificate"


class BadSignature(InvalidInput):
    """The card's signature does not verify against its certificate."""

    code = "bad_signature"


class CertificateNotFound(NotFound):
    """No certificate with this serial."""

    code = "certificate_not_found"


class CertificateStateConflict(Conflict):
    """The change is not possible from the certificate's current state."""

    code = "certificate_state_conflict"
