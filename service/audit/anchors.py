"""Signed anchors: the audit heads, signed with a key the service holds and written outside the database.

The hash chains show any change to an entry, but not a trail cut short or rewritten whole by someone who can
write the database as its owner or superuser (delete the tail and move the head back, truncate, recompute every
hash). So every `ONSHI_AUDIT_ANCHOR_SECONDS` the service signs each shard's head (shard, seq, hash) with an
Ed25519 key of its data directory and appends the line to `anchors.jsonl` beside it, a file the database cannot
reach (operators ship it off the machine: a log collector, write-once storage). `verify-audit` then checks that
every anchored entry is still in its chain with the anchored hash and that no head stands behind its anchor.
A chain is only as old as its last anchor says: what happened after the last anchor is vouched for by the chain
alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.audit import repository as repo
from service.core.clock import clock
from service.core.database import Connection
from service.core.logging import get_logger
from service.core.tasks import cancel_and_wait, raise_if_cancelling

log = get_logger(__name__)

KEY_FILE = "anchor-key.pem"
PUBLIC_KEY_FILE = "anchor-key.pub.pem"
ANCHORS_FILE = "anchors.jsonl"
Head = tuple[int, int, bytes]  # shard, seq, entry hash


@dataclass(frozen=True, slots=True)
class Anchor:
    """One signed line: every shard's head at a moment."""

    at: str
    heads: list[Head]


def _message(at: str, heads: list[Head]) -> bytes:
    return json.dumps({"at": at, "heads": [[s, q, h.hex()] for s, q, h in heads]}, separators=(",", ":")).encode()


class AnchorSigner:
    """The signing key of a data directory (made on first use, readable by its owner only)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        key_path = directory / KEY_FILE
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, Ed25519PrivateKey), f"{key_path} is not an Ed25519 key"
        else:
            key = Ed25519PrivateKey.generate()
            _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        if not (directory / PUBLIC_KEY_FILE).exists():
            (directory / PUBLIC_KEY_FILE).write_bytes(public)
        self._key = key
        self._last: list[Head] | None = None

    def line(self, heads: list[Head], at: datetime) -> str:
        """The signed JSON line of these heads."""
        moment = at.isoformat()
        signature = base64.b64encode(self._key.sign(_message(moment, heads))).decode()
        return json.dumps({"at": moment, "heads": [[s, q, h.hex()] for s, q, h in heads], "signature": signature},
                          separators=(",", ":"))

    async def anchor(self, conn: Connection) -> bool:
        """Append a signed line of the current heads, unless they have not moved since the last; True if written."""
        heads = [(r["shard"], r["seq"], bytes(r["head"])) for r in await repo.shards(conn)]
        if heads == self._last:
            return False
        line = self.line(heads, clock.now())
        await asyncio.to_thread(_append_line, self.directory / ANCHORS_FILE, line)
        self._last = heads
        return True


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_anchors(directory: Path) -> tuple[list[Anchor], list[str]]:
    """The anchors whose signature holds under the directory's public key, and a problem for each line that
    does not (an anchor file changed by hand is reported, never trusted)."""
    path = directory / ANCHORS_FILE
    if not path.exists():
        return [], []
    public = serialization.load_pem_public_key((directory / PUBLIC_KEY_FILE).read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    anchors, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            raw = json.loads(text)
            heads = [(int(s), int(q), bytes.fromhex(h)) for s, q, h in raw["heads"]]
            public.verify(base64.b64decode(raw["signature"]), _message(raw["at"], heads))
        except (InvalidSignature, ValueError, KeyError, TypeError):
            problems.append(f"{ANCHORS_FILE} line {number}: not a validly signed anchor")
            continue
        anchors.append(Anchor(at=raw["at"], heads=heads))
    return anchors, problems


def latest_per_shard(anchors: list[Anchor]) -> dict[int, tuple[int, bytes]]:
    """Per shard, the furthest anchored entry (the chain vouches for everything before it)."""
    latest: dict[int, tuple[int, bytes]] = {}
    for anchor in anchors:
        for shard, seq, head in anchor.heads:
            if seq > latest.get(shard, (0, b""))[0]:
                latest[shard] = (seq, head)
    return latest


class AnchorTask:
    """Anchors at start-up, every `interval` seconds and at shutdown, in the service process."""

    def __init__(self, *, pool: asyncpg.Pool, directory: Path, interval: float) -> None:
        self.pool = pool
        self.signer = AnchorSigner(directory)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> bool:
        """One anchor (if the heads moved)."""
        async with self.pool.acquire() as conn:
            return await self.signer.anchor(conn)

    def forget(self) -> None:
        """Drop every anchor written so far (for tests that empty the database between cases)."""
        (self.signer.directory / ANCHORS_FILE).unlink(missing_ok=True)
        self.signer._last = None

    def start(self) -> None:
        """Loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="audit-anchors")

    async def stop(self) -> None:
        """Stop the loop and anchor what the last requests appended."""
        await cancel_and_wait(self._task)
        with contextlib.suppress(Exception):
            await self.run_once()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                raise_if_cancelling(exc)
                log.warning("audit anchor failed; next try in the next round", error=type(exc).__name__)
            await asyncio.sleep(self.interval)
