"""The load-test fixture file: terminals, an insurer and cards (certificates, shared private keys, expected answers).

Written by `python -m loadtests.fixtures`, read by the locust scenarios. It imports nothing from `service/`
(locust processes only speak HTTP) and is validated as a whole when loaded, so a stale or hand-edited file fails
at start-up with a clear message instead of as thousands of load-test errors.

Format (JSON, UTF-8, mode 0600: it holds bearer tokens and private keys of throw-away test cards)::

    {
      "format": "onshi-loadtest-fixture/1",
      "insurer": {"insurer_number": "...", "token": "..."},
      "terminals": [{"terminal_id": "...", "facility_code": "...", "token": "..."}],
      "keys": ["-----BEGIN PRIVATE KEY-----..."],       # shared by many cards (key generation is slow)
      "cards": [{"serial": "...", "certificate": "<base64 DER>", "key": 0, "kind": "eligible",
                 "result": "eligible", "validity_code": 1, "number": "..."}],
      "staff": [{"login": "...", "password": "...", "facility_code": "...", "role": "doctor"}]   # optional
    }

Each card's `kind` says what the service must answer for it; `number` is the insured number (番号) of the
record the answer shows (null when none), which lets a scenario notice an answer about another patient.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

FORMAT = "onshi-loadtest-fixture/1"
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_PROBE = b"onshi load-test key check"

# kind -> (result, validity_code, whether the answer shows a record)
KINDS: dict[str, tuple[str, int | None, bool]] = {
    "eligible": ("eligible", 1, True),  # 有効
    "not_registered": ("not_registered", None, False),  # no 利用登録
    "code_2": ("not_eligible", 2, True),  # 無効: the qualification ended (資格喪失日 passed)
    "code_3": ("not_eligible", 3, True),  # 無効・新しい資格あり: a later qualification starts in the future
    "code_4": ("not_eligible", 4, False),  # 該当資格なし: registered, no record linked
    "code_5": ("not_eligible", 5, False),  # 複数該当: two overlapping records of one insurer, never guessed
    "suspended": ("certificate_suspended", None, False),  # lost card hotline (一時保留)
    "revoked": ("certificate_revoked", None, False),
}

# Our choice of mix (DOMAIN.md publishes none): most patients at a peak-hour desk are covered, a few show each
# other answer so that every path of the check is exercised. Shares per kind, summing to 100.
PROFILE: dict[str, int] = {
    "eligible": 85, "not_registered": 5, "code_2": 3, "code_3": 2, "code_4": 2, "code_5": 1, "suspended": 1,
    "revoked": 1,
}


class FixtureError(Exception):
    """The fixture file is missing, unreadable or inconsistent; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Terminal:
    """A reception terminal and its bearer token."""

    terminal_id: str
    facility_code: str
    token: str


@dataclass(frozen=True, slots=True)
class Staff:
    """A doctor or pharmacist who logs in to the viewer (optional in the file: the viewer scenario needs them)."""

    login: str
    password: str
    facility_code: str
    role: str


@dataclass(frozen=True, slots=True)
class Insurer:
    """The insurer whose records the cards' answers show, and its bearer token."""

    insurer_number: str
    token: str


@dataclass(frozen=True, slots=True)
class Card:
    """A card: its certificate, its private key, and what a check must answer for it."""

    serial: str
    certificate_b64: str
    key: rsa.RSAPrivateKey
    kind: str
    result: str
    validity_code: int | None
    number: str | None

    def sign(self, nonce: bytes) -> str:
        """The card's RSA PKCS#1 v1.5 SHA-256 signature over the nonce, base64 (a real signature every time)."""
        return self.signature(nonce).decode("ascii")

    def signature(self, nonce: bytes) -> bytes:
        """The same signature as `sign`, as base64 bytes (ASCII), ready to go into a request body."""
        return base64.b64encode(self.key.sign(nonce, _PKCS1V15, _SHA256))


@dataclass(frozen=True, slots=True)
class Fixture:
    """Everything a load test needs, validated."""

    insurer: Insurer
    terminals: list[Terminal]
    cards: list[Card]
    by_kind: dict[str, list[Card]] = field(default_factory=dict)
    staff: list[Staff] = field(default_factory=list)

    def pick(self, rng: random.Random, weights: Mapping[str, float]) -> Card:
        """A card of a kind drawn by `weights` (kinds the fixture lacks are skipped)."""
        kinds = [k for k, w in weights.items() if w > 0 and self.by_kind.get(k)]
        if not kinds:
            return rng.choice(self.cards)
        kind = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
        return rng.choice(self.by_kind[kind])


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise FixtureError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FixtureError(f"{what} is not valid base64") from None


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise FixtureError(f"{where}: {key!r} must be a non-empty string")
    return value


def _objects(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = document.get(key)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise FixtureError(f"{key!r} must be a non-empty list of objects")
    return items


def _keys(document: Mapping[str, Any]) -> list[rsa.RSAPrivateKey]:
    pems = document.get("keys")
    if not isinstance(pems, list) or not pems:
        raise FixtureError("'keys' must be a non-empty list of PEM private keys")
    keys = []
    for index, pem in enumerate(pems):
        try:
            # OpenSSL's full key check (primality of p and q) costs ~60 ms a key, over a second of the load
            # generator's CPU for the benchmark's keys, at the start of every locust run; a signature that
            # verifies with the key's public half shows the key is consistent at 1 ms.
            key = serialization.load_pem_private_key(str(pem).encode(), password=None,
                                                     unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError):
            raise FixtureError(f"keys[{index}] is not a PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise FixtureError(f"keys[{index}] is not an RSA key")
        try:
            key.public_key().verify(key.sign(_PROBE, _PKCS1V15, _SHA256), _PROBE, _PKCS1V15, _SHA256)
        except InvalidSignature:
            raise FixtureError(f"keys[{index}] is inconsistent: its signature does not verify") from None
        keys.append(key)
    return keys


def _card(item: Mapping[str, Any], index: int, keys: Sequence[rsa.RSAPrivateKey]) -> Card:
    where = f"cards[{index}]"
    kind = _text(item, "kind", where)
    if kind not in KINDS:
        raise FixtureError(f"{where}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    key_index = item.get("key")
    if not isinstance(key_index, int) or isinstance(key_index, bool) or not 0 <= key_index < len(keys):
        raise FixtureError(f"{where}: 'key' must index 'keys' (0..{len(keys) - 1})")
    der = _b64(item.get("certificate"), f"{where}.certificate")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise FixtureError(f"{where}: the certificate is not DER") from None
    key = keys[key_index]
    if certificate.public_key() != key.public_key():
        raise FixtureError(f"{where}: keys[{key_index}] is not the key of this certificate")
    serial = _text(item, "serial", where)
    if serial != str(certificate.serial_number):
        raise FixtureError(f"{where}: serial {serial} is not the certificate's")
    result, code, shows_record = KINDS[kind]
    number = item.get("number")
    if shows_record != isinstance(number, str):
        raise FixtureError(f"{where}: 'number' must be {'a string' if shows_record else 'null'} for kind {kind}")
    return Card(serial=serial, certificate_b64=str(item["certificate"]), key=key, kind=kind, result=result,
                validity_code=code, number=number if isinstance(number, str) else None)


def parse(document: object) -> Fixture:
    """A validated fixture from the decoded JSON document."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FixtureError(f"not a fixture file of format {FORMAT}: run python -m loadtests.fixtures")
    insurer = document.get("insurer")
    if not isinstance(insurer, dict):
        raise FixtureError("'insurer' must be an object")
    terminals = [
        Terminal(terminal_id=_text(t, "terminal_id", f"terminals[{i}]"),
                 facility_code=_text(t, "facility_code", f"terminals[{i}]"), token=_text(t, "token", f"terminals[{i}]"))
        for i, t in enumerate(_objects(document, "terminals"))
    ]
    keys = _keys(document)
    cards = [_card(item, i, keys) for i, item in enumerate(_objects(document, "cards"))]
    by_kind: dict[str, list[Card]] = {}
    for card in cards:
        by_kind.setdefault(card.kind, []).append(card)
    staff = [Staff(**{key: _text(s, key, f"staff[{i}]") for key in ("login", "password", "facility_code", "role")})
             for i, s in enumerate(document.get("staff") or [])]
    return Fixture(insurer=Insurer(insurer_number=_text(insurer, "insurer_number", "insurer"),
                                   token=_text(insurer, "token", "insurer")),
                   terminals=terminals, cards=cards, by_kind=by_kind, staff=staff)


def load(path: Path) -> Fixture:
    """Read and validate a fixture file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"no fixture file {path}: run python -m loadtests.fixtures --out {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"cannot read the fixture file {path}: {exc}") from None
    return parse(document)


def write(path: Path, document: Mapping[str, Any]) -> None:
    """Write a fixture document readable by its owner only (tokens and keys), replacing any older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, ensure_ascii=False)
    os.replace(temp, path)
    parse(json.loads(path.read_text(encoding="utf-8")))  # what was written must load
