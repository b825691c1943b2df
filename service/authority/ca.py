"""The certificate authority's cryptography: the CA key, user certificates, and the checks of the hot path.

Pure functions and objects: no database, no HTTP. The service keeps the holders' identity attributes and the
certificate states (suspended, revoked, renewed); this module only signs and verifies.

A user certificate (利用者証明用電子証明書) carries no personal data: its subject is the same for
every holder, and the service identifies the holder by the certificate's serial (written as a decimal string,
it can exceed 64 bits). It expires at the end of the holder's 5th birthday after issue, Japan time.
"""

from __future__ import annotations

import calendar
import functools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from service.authority.errors import BadSignature, MalformedCertificate, UntrustedCertificate
from service.core.clock import JST
from service.core.errors import InvalidInput
from virtualcard.files import directory_lock, write_atomically

KEY_FILE = "ca_key.pem"
CERT_FILE = "ca_cert.pem"
USER_CERTIFICATE_CN = "JPKI user certificate"
CERTIFICATE_YEARS = 5
CA_VALIDITY = timedelta(days=20 * 365)
# Backdating absorbs clock skew between the authority and whoever checks the CA certificate.
CA_BACKDATE = timedelta(minutes=5)
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def _birthday_in(year: int, birthdate: date) -> date:
    """The birthday in `year`; a 29 February birthday falls on 28 February in a common year."""
    if birthdate.month == 2 and birthdate.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthdate.replace(year=year)


def fifth_birthday_after(*, issued_on: date, birthdate: date) -> date:
    """The last day of validity (発行から5回目の誕生日): the first birthday on or after 5 years from issue.

    Issued 2024-04-01 to someone born 1980-06-15: 2029-06-15; issued on the birthday itself: exactly five
    years later. A 29 February birthday (or issue date) counts as 28 February in common years (our choice:
    the certificate then never runs into March).
    """
    if birthdate > issued_on:
        raise InvalidInput(f"birthdate {birthdate} is after the issue date {issued_on}")
    anniversary = _birthday_in(issued_on.year + CERTIFICATE_YEARS, issued_on)
    birthday = _birthday_in(anniversary.year, birthdate)
    return birthday if birthday >= anniversary else _birthday_in(anniversary.year + 1, birthdate)


def serial_to_str(serial: int) -> str:
    """A certificate serial as the contract writes it: a decimal integer in a string."""
    return str(serial)


def generate_card_key() -> rsa.RSAPrivateKey:
    """A new card key pair: RSA-2048, e=65537, as the real user certificate."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(authority_name: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, authority_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _self_signed(private_key: rsa.RSAPrivateKey, name: str, now: datetime) -> x509.Certificate:
    subject = _name(name, name)
    public_key = private_key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CA_BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(private_key, hashes.SHA256())
    )


def _same_key(a: rsa.RSAPublicKey, b: object) -> bool:
    return isinstance(b, rsa.RSAPublicKey) and a.public_numbers() == b.public_numbers()


class CertificateAuthority:
    """The authority's key and self-signed certificate; issues card user certificates."""

    certificate: x509.Certificate

    def __init__(self, *, private_key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        if not _same_key(private_key.public_key(), certificate.public_key()):
            raise ValueError("the CA private key does not match the CA certificate")
        self._private_key = private_key
        self.certificate = certificate
        self._name = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        self._certificate_der = certificate.public_bytes(serialization.Encoding.DER)

    @classmethod
    def generate(cls, *, name: str = "Onshi Demo Authority") -> CertificateAuthority:
        """A new authority with an RSA-2048 key held in memory only."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private_key=private_key, certificate=_self_signed(private_key, name, datetime.now(UTC)))

    @classmethod
    def load_or_create(
        cls, directory: Path, *, allow_create: bool, name: str = "Onshi Demo Authority"
    ) -> CertificateAuthority:
        """Load ca_key.pem and ca_cert.pem from `directory`, creating both if missing and allowed.

        `name` is used only when creating; an existing authority keeps its own name. Creation is serialised
        by a lock on the directory, so processes starting together end up with one and the same authority.
        """
        key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
        if allow_create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not directory.is_dir():
            raise FileNotFoundError(f"no certificate authority: directory {directory} does not exist")
        with directory_lock(directory):  # processes starting together (server, admin command) make one CA
            if not key_path.exists() and not cert_path.exists():
                if not allow_create:
                    raise FileNotFoundError(
                        f"no certificate authority in {directory} ({KEY_FILE}, {CERT_FILE} missing) "
                        "and creating one is not allowed here"
                    )
                cls.generate(name=name)._save(directory)
            return cls._load(key_path, cert_path)

    @classmethod
    def _load(cls, key_path: Path, cert_path: Path) -> CertificateAuthority:
        for path in (key_path, cert_path):
            if not path.exists():
                raise FileNotFoundError(f"incomplete certificate authority: {path} is missing")
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key")
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(private_key=private_key, certificate=certificate)

    def _save(self, directory: Path) -> None:
        key_pem = self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # The certificate goes first: a key file is never left without its certificate.
        write_atomically(directory / CERT_FILE, self.certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
        write_atomically(directory / KEY_FILE, key_pem, mode=0o600)

    @property
    def name(self) -> str:
        """The authority's name (the organisation of its subject)."""
        return str(self._name)

    @property
    def certificate_der(self) -> bytes:
        """The CA certificate in DER, as terminals and verifiers receive it."""
        return self._certificate_der

    def issue_user_certificate(
        self, *, public_key: rsa.RSAPublicKey, birthdate: date, issued_at: datetime
    ) -> x509.Certificate:
        """Sign a card user certificate valid from `issued_at` to the end (JST) of the 5th birthday after."""
        if issued_at.utcoffset() is None:
            raise ValueError("issued_at must be timezone-aware")
        last_day = fifth_birthday_after(issued_on=issued_at.astimezone(JST).date(), birthdate=birthdate)
        not_after = datetime.combine(last_day, time(23, 59, 59), tzinfo=JST).astimezone(UTC)
        issuer_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(_name(self.name, USER_CERTIFICATE_CN))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(issued_at.astimezone(UTC).replace(microsecond=0))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._private_key, hashes.SHA256())
        )


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate, extensions included; garbage raises MalformedCertificate."""
    return _load_certificate(bytes(der))


# A card signs several times per visit (check, consent): handing back the same parsed object lets OpenSSL
# reuse the key it set up on first use (~35 µs of a ~60 µs signature check) and hits the verify_issued_by
# cache by identity. Certificates are immutable; only successes are remembered, exceptions never are.
@functools.lru_cache(maxsize=4096)
def _load_certificate(der: bytes) -> x509.Certificate:
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.extensions  # noqa: B018 -- parsed lazily: fail here, not in a later check
    except (ValueError, TypeError, x509.InvalidVersion, x509.DuplicateExtension) as exc:
        raise MalformedCertificate("the certificate is not a valid X.509 DER certificate") from exc
    return certificate


def _is_user_certificate(certificate: x509.Certificate) -> bool:
    extensions = certificate.extensions
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    try:
        is_ca = extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return key_usage.digital_signature and not is_ca


def verify_issued_by(certificate: x509.Certificate, authority: x509.Certificate) -> None:
    """Check that `authority` signed this card user certificate; validity dates are the caller's business."""
    _verify_issued_by(certificate, authority)


# The answer depends only on the two certificates' contents (Certificate hashes and compares by content).
@functools.lru_cache(maxsize=4096)
def _verify_issued_by(certificate: x509.Certificate, authority: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
        raise UntrustedCertificate("the certificate was not issued by this authority") from exc
    if not _is_user_certificate(certificate):
        raise UntrustedCertificate("the certificate is not a card user certificate")


def verify_card_signature(certificate: x509.Certificate, data: bytes, signature: bytes) -> None:
    """Check the card's RSA PKCS#1 v1.5 SHA-256 signature over `data` with the certificate's key."""
    try:
        public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise BadSignature("the certificate's public key is unusable") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadSignature("the certificate's key is not an RSA key")
    try:
        public_key.verify(signature, data, _PKCS1V15, _SHA256)
    except InvalidSignature as exc:
        raise BadSignature("the card signature does not verify") from exc
