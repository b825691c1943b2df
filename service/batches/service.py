"""Receiving a batch: stream the body into 1 MiB chunks, count its rows, honour the Idempotency-Key."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from service.batches import repository as repo
from service.batches.errors import (
    BatchNotFound,
    EmptyBody,
    IdempotencyConflict,
    MissingIdempotencyKey,
    MyNumberNotAllowed,
)
from service.batches.parsing import CHARSETS, MEDIA_TYPES, NDJSON, is_blank, splitter_for
from service.core.database import Connection
from service.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from service.core.identifiers import contains_my_number


@dataclass(frozen=True, slots=True)
class Upload:
    """Where a batch comes from and how its body is written."""

    kind: str
    owner: str
    insurer_number: str | None
    idempotency_key: str | None
    content_type: str | None
    content_length: int | None


@dataclass(frozen=True, slots=True)
class Received:
    """The batch an upload created (or found again, for a repeated key and body)."""

    batch_id: UUID
    created: bool  # queued for the worker: a new batch, or a failed one resumed


def parse_content_type(content_type: str | None) -> tuple[str, str]:
    """(media type, codec) of an accepted Content-Type; 415 otherwise."""
    media, _, params = (content_type or "").partition(";")
    media_type = MEDIA_TYPES.get(media.strip().lower())
    if media_type is None:
        raise UnsupportedMediaType("send text/csv or application/x-ndjson")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    codec = CHARSETS.get(charset)
    if codec is None:
        raise UnsupportedMediaType(f"charset {charset[:20]!r} is not supported: use utf-8 or shift_jis")
    if media_type == NDJSON and codec != "utf-8":
        raise UnsupportedMediaType("NDJSON must be UTF-8")
    return media_type, codec


def _check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise MissingIdempotencyKey("send an Idempotency-Key header (for example a UUID or the file's SHA-256)")
    if len(key) > 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1-200 printable characters")
    if contains_my_number(key):
        raise MyNumberNotAllowed("the Idempotency-Key holds a My Number (個人番号), which is never accepted: "
                                 "use a UUID or the file's SHA-256")
    return key.strip()


class _BodyCounter:
    """Hashes the body and counts its data rows as it streams past."""

    def __init__(self, media_type: str) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.records = 0
        self._splitter = splitter_for(media_type)
        self._header_pending = media_type != NDJSON

    def add(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self._count(self._splitter.feed(data))

    def close(self) -> None:
        self._count(self._splitter.finish())

    def _count(self, records: list[bytes]) -> None:
        for record in records:
            if is_blank(record):
                continue
            if self._header_pending:
                self._header_pending = False
            else:
                self.records += 1


async def receive(
    conn: Connection, *, upload: Upload, body: AsyncIterator[bytes], max_bytes: int, chunk_bytes: int
) -> Received:
    """Store a new batch, or return the batch made earlier with the same key and body (409 for another body)."""
    media_type, codec = parse_content_type(upload.content_type)
    key = _check_key(upload.idempotency_key)
    if upload.content_length is not None and upload.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes: split the file")
    batch_id = await repo.insert_receiving(
        conn, kind=upload.kind, owner=upload.owner, insurer_number=upload.insurer_number, idempotency_key=key,
        media_type=media_type, charset=codec,
    )
    if batch_id is None:
        return await _repeat(conn, upload=upload, key=key, media_type=media_type, body=body, max_bytes=max_bytes,
                             chunk_bytes=chunk_bytes)
    counter = _BodyCounter(media_type)
    chunks = await _store_chunks(conn, batch_id=batch_id, body=body, counter=counter, max_bytes=max_bytes,
                                 chunk_bytes=chunk_bytes)
    await repo.mark_queued(conn, batch_id=batch_id, body_sha256=counter.digest.digest(), body_bytes=counter.size,
                           chunks=chunks, rows_total=counter.records)
    return Received(batch_id=batch_id, created=True)


async def _store_chunks(
    conn: Connection, *, batch_id: UUID, body: AsyncIterator[bytes], counter: _BodyCounter,
    max_bytes: int, chunk_bytes: int,
) -> int:
    pending = bytearray()
    seq = 0
    async for piece in body:
        counter.add(piece)
        if counter.size > max_bytes:
            raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes: split the file")
        pending += piece
        while len(pending) >= chunk_bytes:
            await repo.insert_chunk(conn, batch_id=batch_id, seq=seq, data=bytes(pending[:chunk_bytes]))
            del pending[:chunk_bytes]
            seq += 1
    counter.close()
    if seq == 0 and not pending.strip():  # nothing but whitespace arrived
        raise EmptyBody("the body is empty: send a header line and rows")
    if pending:
        await repo.insert_chunk(conn, batch_id=batch_id, seq=seq, data=bytes(pending))
        seq += 1
    return seq


async def _repeat(
    conn: Connection, *, upload: Upload, key: str, media_type: str, body: AsyncIterator[bytes],
    max_bytes: int, chunk_bytes: int,
) -> Received:
    """The same key again: the same batch for the same body (a failed one resumes), 409 for another body."""
    existing = await repo.find_by_key(conn, owner=upload.owner, kind=upload.kind, idempotency_key=key)
    assert existing is not None  # the unique key was taken by a committed batch
    counter = _BodyCounter(media_type)
    resumed = existing.status == "failed" and await repo.requeue_failed(conn, batch_id=existing.id) is not None
    if resumed:  # the body was deleted when the batch failed: store it again (all undone on a 409 below)
        chunks = await _store_chunks(conn, batch_id=existing.id, body=body, counter=counter, max_bytes=max_bytes,
                                     chunk_bytes=chunk_bytes)
    else:
        async for piece in body:
            counter.add(piece)
            if counter.size > max_bytes:
                raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes: split the file")
    if counter.digest.digest() != existing.body_sha256 or existing.media_type != media_type:
        raise IdempotencyConflict("this Idempotency-Key was used for another body: use a new key")
    if resumed:
        await repo.mark_queued(conn, batch_id=existing.id, body_sha256=counter.digest.digest(),
                               body_bytes=counter.size, chunks=chunks, rows_total=counter.records)
    return Received(batch_id=existing.id, created=resumed)


async def status(
    conn: Connection | asyncpg.Pool, *, batch_id: UUID, owner: str, errors_offset: int, errors_limit: int
) -> tuple[repo.BatchRow, list[dict[str, object]]]:
    """A batch's progress and a page of its row errors."""
    batch = await repo.get(conn, batch_id=batch_id, owner=owner)
    if batch is None:
        raise BatchNotFound(f"no batch {batch_id}")
    errors = await repo.list_errors(conn, batch_id=batch_id, offset=errors_offset, limit=errors_limit)
    return batch, errors
