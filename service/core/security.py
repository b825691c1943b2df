"""Credentials: bearer tokens (stored as SHA-256), staff passwords (scrypt), and who the caller is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["terminal", "insurer", "operator", "claims"]
_PREFIX: dict[TokenKind, str] = {"terminal": "ont", "insurer": "oni", "operator": "ono", "claims": "onc"}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a bearer-token request."""

    kind: TokenKind
    token_id: str
    terminal_id: str | None = None
    facility_code: str | None = None
    insurer_number: str | None = None
    claims_processor_id: str | None = None

    @property
    def actor(self) -> str:
        """How this caller is named in evidence and audit entries (never the token)."""
        subject = self.terminal_id or self.insurer_number or self.claims_processor_id or self.token_id
        return f"{self.kind}:{subject}"


def new_token(kind: TokenKind) -> str:
    """A fresh high-entropy bearer token, prefixed by its kind so a leaked one is recognisable."""
    return f"{_PREFIX[kind]}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> bytes:
    """Tokens are random 256-bit values, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).digest()


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form `scrypt$<salt hex>$<hash hex>`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against `hash_password` output."""
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)
