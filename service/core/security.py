"""Credentials: bearer tokens (stored as SHA-256), staff passwords (scrypt), and who the caller is."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from service.core.errors import ServiceBusy

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

    def as_terminal(self) -> TerminalPrincipal | None:
        """This caller as a reception terminal (None for any other kind of credential)."""
        if self.kind != "terminal" or self.terminal_id is None or self.facility_code is None:
            return None
        return TerminalPrincipal(token_id=self.token_id, terminal_id=self.terminal_id,
                                 facility_code=self.facility_code)


@dataclass(frozen=True, slots=True)
class TerminalPrincipal:
    """An authenticated reception terminal: the terminal and its facility are always known."""

    token_id: str
    terminal_id: str
    facility_code: str
    kind: Literal["terminal"] = "terminal"

    @property
    def actor(self) -> str:
        """How this terminal is named in evidence and audit entries (as `Principal.actor` names it)."""
        return f"terminal:{self.terminal_id}"


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


class PasswordChecker:
    """scrypt off the event loop: in `threads` threads, with at most `max_pending` checks admitted at once.

    scrypt costs tens of milliseconds of CPU and 16 MiB. On the event loop a flood of wrong passwords would stall
    every verification; in an unbounded pool it would queue without end while each login holds a database
    connection. Past `max_pending` a login is refused at once (503 service_busy, Retry-After), and a login that
    does not exist is checked against a dummy hash, so the answer takes as long as for one that does.
    """

    def __init__(self, *, threads: int, max_pending: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scrypt")
        self._admitted = threading.BoundedSemaphore(max_pending or 4 * threads)  # any event loop, any thread

    async def check(self, password: str, stored: str | None) -> bool:
        """Whether `password` matches `stored` (False for None, after the same work)."""
        if not self._admitted.acquire(blocking=False):
            raise ServiceBusy("too many logins at once: retry in a second", headers={"Retry-After": "1"})
        try:
            loop = asyncio.get_running_loop()
            matched = await loop.run_in_executor(self._pool, verify_password, password, stored or _dummy_hash())
        finally:
            self._admitted.release()
        return matched and stored is not None

    def close(self) -> None:
        """Stop the threads (after the checks under way)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
