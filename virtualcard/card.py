"""The virtual My Number Card: a file holding the user certificate, its private key, the face photo and the
card's own counters (PIN failures, face-match failures), as the chip would.

Used by the clinic terminal (signing) and by the authority (issuing, renewal); it imports nothing from
`service/` or `terminals/`.

File format (JSON, UTF-8, mode 0600; binary values in standard base64)::

    {
      "format": "onshi-virtual-card/1",
      "certificate": "<base64 DER of the user certificate>",
      "private_key": "-----BEGIN PRIVATE KEY-----\\n...",   # PKCS#8 PEM, unencrypted
      "pin": {"kdf": "scrypt", "n": 4096, "r": 8, "p": 1, "salt": "<base64>", "hash": "<base64>"},
      "pin_retry_limit": 3,   "pin_failures": 0,
      "face_image": "<base64>", "face_format": "jp2",   # "jp2" | "jpeg" | "png"
      "face_lock_limit": 10,  "face_failures": 0
    }

Every change of a counter is written at once and atomically (temporary file, fsync, rename) under an
exclusive lock on the card's directory, after re-reading the file, so two processes using one card cannot lose
a failure. The PIN is never stored, only its salted scrypt hash. With 10,000 possible PINs and the private key
in the same file, no KDF cost could stop a determined reader of the file; the hash keeps the PIN out of sight,
so its cost is modest (and recorded per file, so it can be raised).

Exceptions::

    CardError            unreadable or malformed card file
    ├── CardLocked       PIN locked after `pin_retry_limit` consecutive failures, or face matching locked
    └── WrongPin         wrong PIN; `.remaining` attempts before the lock
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from virtualcard.files import directory_lock, write_atomically

FORMAT = "onshi-virtual-card/1"
FACE_FORMATS = frozenset({"jp2", "jpeg", "png"})
PIN_LENGTH = 4
DEFAULT_PIN_RETRY_LIMIT = 3
DEFAULT_FACE_LOCK_LIMIT = 10
_SCRYPT_PARAMS = {"n": 2**12, "r": 8, "p": 1}


class CardError(Exception):
    """The card cannot be used: unreadable or malformed file (base of the card's errors)."""


class CardLocked(CardError):
    """The PIN (or face matching) is locked after too many consecutive failures."""


class WrongPin(CardError):
    """A wrong PIN; `remaining` attempts are left before the card locks."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"wrong PIN: {remaining} attempt(s) left before the card locks")
        self.remaining = remaining


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    return base64.b64decode(value, validate=True)


def _count(document: dict[str, Any], key: str, *, minimum: int = 0) -> int:
    value = document[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key!r} must be an integer >= {minimum}")
    return value


def _hash_pin(pin: str, *, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(pin.encode("utf-8"))


def _new_pin_record(pin: str) -> dict[str, Any]:
    if len(pin) != PIN_LENGTH or not (pin.isascii() and pin.isdigit()):
        raise ValueError(f"the PIN must be {PIN_LENGTH} digits")
    salt = os.urandom(16)
    return {
        "kdf": "scrypt",
        **_SCRYPT_PARAMS,
        "salt": _b64(salt),
        "hash": _b64(_hash_pin(pin, salt=salt, **_SCRYPT_PARAMS)),
    }


def _check_pin_record(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict) or record.get("kdf") != "scrypt":
        raise ValueError("'pin' must be a scrypt record")
    n, r, p = (_count(record, key, minimum=1) for key in ("n", "r", "p"))
    # Bounds keep a damaged file from asking scrypt for gigabytes at the next PIN entry.
    if n & (n - 1) or not 2 <= n <= 2**20 or r > 32 or p > 16:
        raise ValueError("'pin' has out-of-range scrypt parameters")
    _unb64(record["salt"])
    _unb64(record["hash"])
    return record


def _check_key_pair(certificate_der: bytes, private_key: rsa.RSAPrivateKey) -> x509.Certificate:
    certificate = x509.load_der_x509_certificate(certificate_der)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the certificate's key is not an RSA key")
    if public_key.public_numbers() != private_key.public_key().public_numbers():
        raise ValueError("the private key does not match the certificate")
    return certificate


@dataclass
class _Contents:
    """A card file, parsed and checked."""

    certificate_der: bytes
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    pin_record: dict[str, Any]
    pin_retry_limit: int
    pin_failures: int
    face_image: bytes
    face_format: str
    face_lock_limit: int
    face_failures: int

    def document(self) -> dict[str, Any]:
        """The JSON document of the file format."""
        return {
            "format": FORMAT,
            "certificate": _b64(self.certificate_der),
            "private_key": _private_pem(self.private_key),
            "pin": self.pin_record,
            "pin_retry_limit": self.pin_retry_limit,
            "pin_failures": self.pin_failures,
            "face_image": _b64(self.face_image),
            "face_format": self.face_format,
            "face_lock_limit": self.face_lock_limit,
            "face_failures": self.face_failures,
        }


def _private_pem(private_key: rsa.RSAPrivateKey) -> str:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def _load_private_key(pem: Any) -> rsa.RSAPrivateKey:
    if not isinstance(pem, str):
        raise ValueError("'private_key' must be a PEM string")
    # OpenSSL's RSA key check costs ~50 ms per load (terminals and load tests load many cards); a damaged key
    # is still caught by comparing it with the certificate's public key.
    key = serialization.load_pem_private_key(
        pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("'private_key' is not an RSA key")
    return key


def _parse(document: Any) -> _Contents:
    """Check every field of a card document; raises ValueError (or KeyError) naming the first bad one."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if document["face_format"] not in FACE_FORMATS:
        raise ValueError(f"'face_format' must be one of {sorted(FACE_FORMATS)}")
    certificate_der, private_key = _unb64(document["certificate"]), _load_private_key(document["private_key"])
    return _Contents(
        certificate_der=certificate_der,
        certificate=_check_key_pair(certificate_der, private_key),
        private_key=private_key,
        pin_record=_check_pin_record(document["pin"]),
        pin_retry_limit=_count(document, "pin_retry_limit", minimum=1),
        pin_failures=_count(document, "pin_failures"),
        face_image=_unb64(document["face_image"]),
        face_format=document["face_format"],
        face_lock_limit=_count(document, "face_lock_limit", minimum=1),
        face_failures=_count(document, "face_failures"),
    )


def _encode(contents: _Contents) -> bytes:
    return json.dumps(contents.document(), indent=2).encode("utf-8")


def _read(path: Path) -> _Contents:
    """Read and check a card file, turning every failure into a CardError that names the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CardError(f"cannot read card file {path}: {exc.strerror}") from exc
    try:
        return _parse(json.loads(raw.decode("utf-8")))
    except KeyError as exc:
        raise CardError(f"malformed card file {path}: missing field {exc}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CardError(f"malformed card file {path}: {exc}") from exc


def _stamp(path: Path) -> tuple[int, int, int]:
    """What changes whenever the file is rewritten (a rename always brings a new inode)."""
    try:
        status = path.stat()
    except OSError as exc:
        raise CardError(f"cannot read card file {path}: {exc.strerror}") from exc
    return status.st_ino, status.st_mtime_ns, status.st_size


_LOCKED_PIN = "the card is locked (too many wrong PINs): have it reset at the municipal office"


class VirtualCard:
    """A virtual My Number Card backed by one JSON file; its counters live in the file, as on the chip."""

    path: Path

    def __init__(self, path: Path, contents: _Contents, stamp: tuple[int, int, int]) -> None:
        self.path = path
        self._contents = contents
        self._stamp = stamp  # of the file version `contents` came from (taken before reading it)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        certificate_der: bytes,
        private_key: rsa.RSAPrivateKey,
        pin: str,
        face_image: bytes = b"",
        face_format: str = "jp2",
        pin_retry_limit: int = DEFAULT_PIN_RETRY_LIMIT,
        face_lock_limit: int = DEFAULT_FACE_LOCK_LIMIT,
    ) -> VirtualCard:
        """Write a new card file (mode 0600); refuses to overwrite an existing file (FileExistsError)."""
        document = {
            "format": FORMAT,
            "certificate": _b64(certificate_der),
            "private_key": _private_pem(private_key),
            "pin": _new_pin_record(pin),
            "pin_retry_limit": pin_retry_limit,
            "pin_failures": 0,
            "face_image": _b64(face_image),
            "face_format": face_format,
            "face_lock_limit": face_lock_limit,
            "face_failures": 0,
        }
        contents = _parse(document)
        path = Path(path)
        write_atomically(path, _encode(contents), replace=False)
        return cls(path, contents, _stamp(path))

    @classmethod
    def load(cls, path: Path | str) -> VirtualCard:
        """Read a card file; a missing, unreadable or malformed file raises CardError."""
        path = Path(path)
        stamp = _stamp(path)
        return cls(path, _read(path), stamp)

    @property
    def certificate_der(self) -> bytes:
        """The user certificate (DER), as the terminal sends it."""
        return self._contents.certificate_der

    @property
    def face_image(self) -> bytes:
        """The face photo stored on the card (JPEG 2000 on real cards)."""
        return self._contents.face_image

    @property
    def face_format(self) -> str:
        """The photo's format: "jp2", "jpeg" or "png"."""
        return self._contents.face_format

    @property
    def pin_failures(self) -> int:
        """Consecutive wrong PINs so far."""
        self._refresh()
        return self._contents.pin_failures

    @property
    def pin_retry_limit(self) -> int:
        """Consecutive wrong PINs that lock the card (3 for the user certificate)."""
        return self._contents.pin_retry_limit

    @property
    def face_failures(self) -> int:
        """Consecutive failed face matches so far."""
        self._refresh()
        return self._contents.face_failures

    @property
    def face_lock_limit(self) -> int:
        """Consecutive failed face matches that lock face matching (10)."""
        return self._contents.face_lock_limit

    @property
    def serial(self) -> str:
        """The certificate serial as a decimal string (it can exceed 64 bits)."""
        return str(self._contents.certificate.serial_number)

    @property
    def pin_locked(self) -> bool:
        """True once `pin_retry_limit` consecutive wrong PINs were entered."""
        self._refresh()
        return self._contents.pin_failures >= self._contents.pin_retry_limit

    @property
    def face_locked(self) -> bool:
        """True once `face_lock_limit` consecutive face matches failed."""
        self._refresh()
        return self._contents.face_failures >= self._contents.face_lock_limit

    def sign(self, nonce: bytes, *, pin: str | None = None) -> bytes:
        """Sign the raw nonce (RSA PKCS#1 v1.5, SHA-256), checking the PIN first if one is given.

        Without a PIN (presence proven by face match or by staff's visual check) the card signs even when its
        PIN is locked: the PIN lock stops PIN entry, and the fallback to face or visual check must always exist.
        """
        if pin is not None:
            self._verify_pin(pin)
        return self._contents.private_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())

    def record_face_result(self, *, matched: bool) -> None:
        """Count a failed face match (persisted); a match resets the count; refused once locked."""
        with self._locked_for_update() as contents:
            if contents.face_failures >= contents.face_lock_limit:
                raise CardLocked("face matching is locked: use the PIN or a staff visual check")
            failures = 0 if matched else contents.face_failures + 1
            if failures != contents.face_failures:
                contents.face_failures = failures
                self._save()

    def replace_credentials(self, *, certificate_der: bytes, private_key: rsa.RSAPrivateKey) -> None:
        """Renewal: a new key and certificate in the same file; PIN, counters and face photo are kept."""
        certificate = _check_key_pair(certificate_der, private_key)
        with self._locked_for_update() as contents:
            contents.certificate_der, contents.certificate = certificate_der, certificate
            contents.private_key = private_key
            self._save()

    def _verify_pin(self, pin: str) -> None:
        with self._locked_for_update() as contents:
            if contents.pin_failures >= contents.pin_retry_limit:
                raise CardLocked(_LOCKED_PIN)
            if _pin_matches(contents.pin_record, pin):
                if contents.pin_failures:
                    contents.pin_failures = 0
                    self._save()
                return
            contents.pin_failures += 1
            self._save()
            remaining = contents.pin_retry_limit - contents.pin_failures
            if remaining <= 0:
                raise CardLocked(f"wrong PIN: the card is now locked after {contents.pin_failures} failures")
            raise WrongPin(remaining)

    @contextmanager
    def _locked_for_update(self) -> Iterator[_Contents]:
        """Hold the card's lock and start from the file's current state (another process may have written)."""
        with directory_lock(self.path.parent):
            self._refresh()
            yield self._contents

    def _refresh(self) -> None:
        """Re-read the file if it changed since we read or wrote it: a stat, not a parse, when unchanged."""
        stamp = _stamp(self.path)
        if stamp != self._stamp:
            self._contents = _read(self.path)
            self._stamp = stamp

    def _save(self) -> None:
        write_atomically(self.path, _encode(self._contents), replace=True)
        self._stamp = _stamp(self.path)


def _pin_matches(record: dict[str, Any], pin: str) -> bool:
    """Constant-time comparison of the PIN's hash with the stored one."""
    salt, expected = _unb64(record["salt"]), _unb64(record["hash"])
    actual = _hash_pin(pin, salt=salt, n=record["n"], r=record["r"], p=record["p"])
    return hmac.compare_digest(actual, expected)
