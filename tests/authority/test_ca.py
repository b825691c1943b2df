"""The certificate authority: CA key files, user certificates, and the checks of the verification hot path."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from cryptography.x509.oid import NameOID

from service.authority.ca import (
    JST,
    CertificateAuthority,
    fifth_birthday_after,
    generate_card_key,
    load_certificate,
    serial_to_str,
    verify_card_signature,
    verify_issued_by,
)
from service.authority.errors import BadSignature, MalformedCertificate, UntrustedCertificate
from service.core.errors import InvalidInput

BIRTHDATE = date(1980, 6, 15)
ISSUED_AT = datetime(2024, 4, 1, 10, 30, tzinfo=JST)


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate(name="Test Authority")


@pytest.fixture(scope="module")
def card_key() -> rsa.RSAPrivateKey:
    return generate_card_key()


@pytest.fixture(scope="module")
def user_cert(authority: CertificateAuthority, card_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return authority.issue_user_certificate(
        public_key=card_key.public_key(), birthdate=BIRTHDATE, issued_at=ISSUED_AT
    )


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


# --- validity period -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued_on", "birthdate", "expected"),
    [
        (date(2024, 4, 1), date(1980, 6, 15), date(2029, 6, 15)),  # the documented example
        (date(2024, 6, 15), date(1980, 6, 15), date(2029, 6, 15)),  # issued on the birthday: 5 years
        (date(2024, 6, 16), date(1980, 6, 15), date(2030, 6, 15)),  # birthday just passed: nearly 6 years
        (date(2023, 1, 10), date(2000, 2, 29), date(2028, 2, 29)),  # leap-day birthday in a leap year
        (date(2024, 1, 10), date(2000, 2, 29), date(2029, 2, 28)),  # leap-day birthday in a common year
        (date(2024, 2, 29), date(2000, 2, 29), date(2029, 2, 28)),  # issued on a leap-day birthday
        (date(2024, 2, 29), date(1990, 3, 1), date(2029, 3, 1)),  # issued on 29 Feb, birthday next day
    ],
)
def test_fifth_birthday_after(issued_on: date, birthdate: date, expected: date) -> None:
    assert fifth_birthday_after(issued_on=issued_on, birthdate=birthdate) == expected


def test_fifth_birthday_refuses_birthdate_after_issue() -> None:
    with pytest.raises(InvalidInput):
        fifth_birthday_after(issued_on=date(2024, 1, 1), birthdate=date(2024, 1, 2))


# --- the authority and its files -------------------------------------------------------------------------


def test_generated_authority_is_a_self_signed_ca(authority: CertificateAuthority) -> None:
    certificate = authority.certificate
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert constraints.critical and constraints.value.ca
    assert key_usage.critical and key_usage.value.key_cert_sign and key_usage.value.crl_sign
    assert not key_usage.value.digital_signature
    certificate.verify_directly_issued_by(certificate)
    assert load_certificate(authority.certificate_der) == certificate


def test_load_or_create_creates_then_loads_the_same_authority(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    created = CertificateAuthority.load_or_create(directory, allow_create=True, name="Files Authority")
    key_file = directory / "ca_key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert (directory / "ca_cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")

    loaded = CertificateAuthority.load_or_create(directory, allow_create=False)
    assert loaded.certificate_der == created.certificate_der
    # The loaded key is the same key: what it issues verifies against the first instance's certificate.
    card = generate_card_key()
    issued = loaded.issue_user_certificate(
        public_key=card.public_key(), birthdate=BIRTHDATE, issued_at=ISSUED_AT
    )
    verify_issued_by(issued, created.certificate)


def test_processes_starting_together_share_one_authority(tmp_path: Path) -> None:
    code = (
        "import sys, pathlib; from service.authority.ca import CertificateAuthority as CA; "
        "print('ready', flush=True); sys.stdin.read(); "
        "print(CA.load_or_create(pathlib.Path(sys.argv[1]), allow_create=True).certificate_der.hex())"
    )
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "ca")],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:  # all imported and waiting...
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:  # ...then all started at the same moment
        assert process.stdin is not None
        process.stdin.close()
    outputs = {process.stdout.read() for process in processes if process.stdout is not None}
    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0, 0]
    assert len(outputs) == 1


def test_load_or_create_refuses_to_create_when_not_allowed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not allowed"):
        CertificateAuthority.load_or_create(tmp_path, allow_create=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CertificateAuthority.load_or_create(tmp_path / "missing", allow_create=False)


def test_load_or_create_never_replaces_half_an_authority(tmp_path: Path) -> None:
    CertificateAuthority.load_or_create(tmp_path, allow_create=True)
    (tmp_path / "ca_key.pem").unlink()
    with pytest.raises(FileNotFoundError, match=r"ca_key\.pem"):
        CertificateAuthority.load_or_create(tmp_path, allow_create=True)
    assert not (tmp_path / "ca_key.pem").exists()


# --- user certificates -----------------------------------------------------------------------------------


def test_user_certificate_subject_carries_no_personal_data(
    authority: CertificateAuthority, user_cert: x509.Certificate
) -> None:
    assert user_cert.subject == x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, "JPKI user certificate"),
        ]
    )
    assert user_cert.issuer == authority.certificate.subject
    oids = {extension.oid for extension in user_cert.extensions}
    assert x509.SubjectAlternativeName.oid not in oids  # no name, birthdate or address hidden in a SAN


def test_user_certificate_extensions(authority: CertificateAuthority, user_cert: x509.Certificate) -> None:
    extensions = user_cert.extensions
    key_usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not any(
        [key_usage.value.key_cert_sign, key_usage.value.crl_sign, key_usage.value.key_encipherment]
    )
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    authority_ski = authority.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == authority_ski.value.digest
    ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(user_cert.public_key()).digest
    assert user_cert.version is x509.Version.v3
    assert isinstance(user_cert.signature_hash_algorithm, hashes.SHA256)


def test_user_certificate_validity_ends_on_the_fifth_birthday_japan_time(user_cert: x509.Certificate) -> None:
    assert user_cert.not_valid_before_utc == ISSUED_AT.astimezone(UTC)
    # 2029-06-15 23:59:59 in Japan is 14:59:59 UTC.
    assert user_cert.not_valid_after_utc == datetime(2029, 6, 15, 14, 59, 59, tzinfo=UTC)


def test_issue_date_is_taken_in_japan_time(
    authority: CertificateAuthority, card_key: rsa.RSAPrivateKey
) -> None:
    # 2024-06-15 16:00 UTC is already 2024-06-16 in Japan: the birthday has passed there.
    certificate = authority.issue_user_certificate(
        public_key=card_key.public_key(),
        birthdate=BIRTHDATE,
        issued_at=datetime(2024, 6, 15, 16, 0, tzinfo=UTC),
    )
    assert certificate.not_valid_after_utc.astimezone(JST).date() == date(2030, 6, 15)


def test_issue_refuses_a_naive_timestamp(
    authority: CertificateAuthority, card_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(ValueError, match="timezone"):
        authority.issue_user_certificate(
            public_key=card_key.public_key(), birthdate=BIRTHDATE, issued_at=datetime(2024, 4, 1)
        )


def test_serials_are_random_and_written_in_decimal(
    authority: CertificateAuthority, card_key: rsa.RSAPrivateKey, user_cert: x509.Certificate
) -> None:
    other = authority.issue_user_certificate(
        public_key=card_key.public_key(), birthdate=BIRTHDATE, issued_at=ISSUED_AT
    )
    assert other.serial_number != user_cert.serial_number
    assert serial_to_str(2**64 + 5) == "18446744073709551621"
    assert int(serial_to_str(user_cert.serial_number)) == user_cert.serial_number
    assert serial_to_str(user_cert.serial_number).isdigit()


# --- verify_issued_by ------------------------------------------------------------------------------------


def test_verify_issued_by_accepts_own_certificate_even_expired(
    authority: CertificateAuthority, card_key: rsa.RSAPrivateKey, user_cert: x509.Certificate
) -> None:
    verify_issued_by(user_cert, authority.certificate)
    expired = authority.issue_user_certificate(
        public_key=card_key.public_key(), birthdate=BIRTHDATE, issued_at=datetime(2001, 1, 1, tzinfo=JST)
    )
    assert expired.not_valid_after_utc < datetime.now(UTC)
    verify_issued_by(expired, authority.certificate)  # dates are the caller's decision (grace period)


def test_verify_issued_by_rejects_another_authority(
    authority: CertificateAuthority, card_key: rsa.RSAPrivateKey, user_cert: x509.Certificate
) -> None:
    other = CertificateAuthority.generate(name="Other Authority")
    with pytest.raises(UntrustedCertificate):
        verify_issued_by(user_cert, other.certificate)
    # Same name, different key: the name alone must not be trusted.
    impostor = CertificateAuthority.generate(name="Test Authority")
    forged = impostor.issue_user_certificate(
        public_key=card_key.public_key(), birthdate=BIRTHDATE, issued_at=ISSUED_AT
    )
    assert forged.issuer == authority.certificate.subject
    with pytest.raises(UntrustedCertificate):
        verify_issued_by(forged, authority.certificate)


def test_verify_issued_by_rejects_a_tampered_certificate(
    authority: CertificateAuthority, user_cert: x509.Certificate
) -> None:
    der = user_cert.public_bytes(Encoding.DER)
    tampered = load_certificate(der.replace(b"JPKI user certificate", b"JPKI user certificatX"))
    with pytest.raises(UntrustedCertificate):
        verify_issued_by(tampered, authority.certificate)


def test_verify_issued_by_rejects_the_ca_certificate_itself(authority: CertificateAuthority) -> None:
    with pytest.raises(UntrustedCertificate, match="not a card user certificate"):
        verify_issued_by(authority.certificate, authority.certificate)


def test_verify_issued_by_rejects_a_certificate_without_digital_signature(tmp_path: Path) -> None:
    authority = CertificateAuthority.load_or_create(tmp_path, allow_create=True)
    ca_key = _ca_key(tmp_path)
    subject_key = generate_card_key()
    encipher_only = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "encryption")]))
        .issuer_name(authority.certificate.subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(encipher_only, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    certificate.verify_directly_issued_by(authority.certificate)  # the CA did sign it...
    with pytest.raises(UntrustedCertificate):  # ...but it is not a card user certificate
        verify_issued_by(certificate, authority.certificate)


def _ca_key(directory: Path) -> rsa.RSAPrivateKey:
    key = load_pem_private_key((directory / "ca_key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


# --- load_certificate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"", b"not a certificate", b"\x30\x82\x01\x00" + b"\x00" * 10])
def test_load_certificate_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(MalformedCertificate) as raised:
        load_certificate(garbage)
    assert raised.value.status == 422
    assert raised.value.code == "malformed_certificate"


def test_load_certificate_rejects_truncated_and_pem(user_cert: x509.Certificate) -> None:
    der = user_cert.public_bytes(Encoding.DER)
    with pytest.raises(MalformedCertificate):
        load_certificate(der[:-10])
    with pytest.raises(MalformedCertificate):
        load_certificate(user_cert.public_bytes(Encoding.PEM))
    assert load_certificate(der) == user_cert


# --- card signatures -------------------------------------------------------------------------------------


def test_verify_card_signature(user_cert: x509.Certificate, card_key: rsa.RSAPrivateKey) -> None:
    nonce = b"\x01" * 32
    verify_card_signature(user_cert, nonce, _sign(card_key, nonce))
    with pytest.raises(BadSignature):
        verify_card_signature(user_cert, nonce, _sign(generate_card_key(), nonce))  # another card
    with pytest.raises(BadSignature) as raised:
        verify_card_signature(user_cert, b"\x02" + nonce[1:], _sign(card_key, nonce))  # modified nonce
    assert raised.value.code == "bad_signature" and raised.value.status == 422
    with pytest.raises(BadSignature):
        verify_card_signature(user_cert, nonce, b"")


def test_verify_card_signature_rejects_a_non_rsa_key() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")]))
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.now(UTC))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .sign(ec_key, hashes.SHA256())
    )
    nonce = b"nonce"
    with pytest.raises(BadSignature):
        verify_card_signature(certificate, nonce, ec_key.sign(nonce, ec.ECDSA(hashes.SHA256())))
