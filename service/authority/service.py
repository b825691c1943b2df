"""The rules of the authority (J-LIS role): issue, register, suspend, release, revoke and renew certificates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from service.authority import ca as crypto
from service.authority import repository as repo
from service.authority.errors import CertificateNotFound, CertificateStateConflict
from service.authority.schemas import IdentityAttributes
from service.core import metrics
from service.core.clock import clock
from service.core.database import Connection
from service.core.errors import InvalidInput
from service.linking.normalize import normalize_address, normalize_kana_name, normalize_kanji_name

REVOCATION_REASONS = frozenset({
    "unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation",
    "privilegeWithdrawn",
})
# action -> (statuses it may start from, resulting status, default reason, allowed reasons)
_TRANSITIONS: dict[str, tuple[frozenset[str], str, str, frozenset[str]]] = {
    "suspend": (frozenset({"active"}), "suspended", "certificateHold", frozenset({"certificateHold"})),
    "release": (frozenset({"suspended"}), "active", "removeFromCRL", frozenset({"removeFromCRL"})),
    "revoke": (frozenset({"active", "suspended"}), "revoked", "unspecified", REVOCATION_REASONS),
}


@dataclass(frozen=True, slots=True)
class Registered:
    """A certificate registered with its holder."""

    serial: str
    holder_id: int
    not_after: datetime


def _trusted(authority: crypto.CertificateAuthority, der: bytes) -> x509.Certificate:
    certificate = crypto.load_certificate(der)
    crypto.verify_issued_by(certificate, authority.certificate)
    return certificate


async def register_holder(
    conn: Connection, *, authority: crypto.CertificateAuthority, certificate_der: bytes,
    identity: IdentityAttributes, actor: str,
) -> Registered:
    """Record the identity attributes of the holder of an issued certificate."""
    certificate = _trusted(authority, certificate_der)
    holder_id = await repo.insert_holder(
        conn, name_kanji=identity.name_kanji, name_kana=identity.name_kana, birthdate=identity.birthdate,
        sex=identity.sex, address=identity.address, norm_kanji=normalize_kanji_name(identity.name_kanji),
        norm_kana=normalize_kana_name(identity.name_kana), norm_address=normalize_address(identity.address),
    )
    serial = await _insert_certificate(conn, certificate=certificate, holder_id=holder_id, der=certificate_der)
    await repo.insert_event(conn, serial=serial, action="issue", reason=None, actor=actor)
    metrics.certificate_actions.labels("issue").inc()
    return Registered(serial=serial, holder_id=holder_id, not_after=certificate.not_valid_after_utc)


async def _insert_certificate(
    conn: Connection, *, certificate: x509.Certificate, holder_id: int, der: bytes
) -> str:
    serial = crypto.serial_to_str(certificate.serial_number)
    inserted = await repo.insert_certificate(
        conn, serial=serial, holder_id=holder_id, issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc, der=der,
    )
    if not inserted:
        raise CertificateStateConflict(f"certificate {serial} is registered already")
    return serial


async def change_status(
    conn: Connection, *, serial: str, action: str, reason: str | None, actor: str
) -> repo.CertificateRow:
    """Suspend (lost card hotline, 一時保留), release from suspension, or revoke a certificate."""
    allowed_from, new_status, default_reason, allowed_reasons = _TRANSITIONS[action]
    chosen = reason or default_reason
    if chosen not in allowed_reasons:
        raise InvalidInput(f"reason for {action} must be one of {', '.join(sorted(allowed_reasons))}")
    current = await repo.get_certificate(conn, serial, for_update=True)
    if current is None:
        raise CertificateNotFound(f"no certificate {serial}")
    if current.status not in allowed_from:
        raise CertificateStateConflict(f"cannot {action} a certificate that is {current.status}")
    await repo.set_status(conn, serial=serial, status=new_status, reason=chosen)
    await repo.insert_event(conn, serial=serial, action=action, reason=chosen, actor=actor)
    metrics.certificate_actions.labels(action).inc()
    changed = await repo.get_certificate(conn, serial)
    assert changed is not None
    return changed


async def renew(
    conn: Connection, *, authority: crypto.CertificateAuthority, old_serial: str,
    certificate_der: bytes, actor: str,
) -> str:
    """Register the new certificate of the same holder; the old one is revoked as superseded, old -> new kept."""
    certificate = _trusted(authority, certificate_der)
    old = await repo.get_certificate(conn, old_serial, for_update=True)
    if old is None:
        raise CertificateNotFound(f"no certificate {old_serial}")
    if old.replaced_by is not None or old.status == "revoked":
        raise CertificateStateConflict(f"certificate {old_serial} is {old.status} and cannot be renewed")
    serial = await _insert_certificate(conn, certificate=certificate, holder_id=old.holder_id, der=certificate_der)
    await repo.set_status(conn, serial=old_serial, status="revoked", reason="superseded", replaced_by=serial)
    await repo.insert_event(conn, serial=old_serial, action="renew", reason="superseded", actor=actor)
    await repo.insert_event(conn, serial=serial, action="issue", reason=f"renewal of {old_serial}", actor=actor)
    metrics.certificate_actions.labels("renew").inc()
    return serial


def issue_certificate(
    authority: crypto.CertificateAuthority, *, birthdate: date, key: rsa.RSAPrivateKey | None = None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Sign a user certificate for a (new) card key: used by the admin command and the demo."""
    private_key = key or crypto.generate_card_key()
    certificate = authority.issue_user_certificate(
        public_key=private_key.public_key(), birthdate=birthdate, issued_at=clock.now()
    )
    return certificate, private_key




async def read_action_counts(pool: asyncpg.Pool) -> None:
    """The admin command's certificate actions so far into their metric (read before each /metrics scrape)."""
    metrics.admin_certificate_actions.update(await repo.admin_action_counts(pool))
