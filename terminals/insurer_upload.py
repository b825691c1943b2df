"""Insurer batch upload client: stream a CSV/NDJSON file to the service, follow the batch, report its errors.

    python -m terminals.insurer_upload --insurer 33120015 --token T members.csv
    python -m terminals.insurer_upload --kind checkup --errors-csv rejected.csv checkups.ndjson

It speaks only HTTP to the service (docs/API.md, "Insurer batch upload") and imports nothing from `service/`.
The Idempotency-Key defaults to the SHA-256 of the file, so re-running an interrupted upload is safe and gives
back the same batch; network errors are retried with exponential backoff for the same reason.

Exit codes: 0 done with no rejected row, 1 done with rejected rows, 2 failed (batch failed, HTTP error,
network still down after the retries, timeout), 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from terminals.config import default_url

KINDS = ("eligibility", "checkup")
MEDIA_TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}
CHUNK_SIZE = 64 * 1024
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
FINAL_STATUSES = frozenset({"done", "failed"})
ERROR_COLUMNS = ("row", "field", "error", "detail")

Status = Mapping[str, Any]


class UploadFailed(Exception):
    """The upload or the batch failed; the message is what the user should read."""


class HttpError(UploadFailed):
    """A non-2xx answer, with the contract's error body {"error", "detail"} when the service sent one."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.error, self.detail = _error_body(response)
        self.request_id = response.headers.get("X-Request-ID")
        super().__init__(self.describe())

    def describe(self) -> str:
        """One readable line: status, contract error code and detail, request id."""
        text = f"HTTP {self.status_code} {self.error}: {self.detail}"
        hint = _HINTS.get(self.status_code)
        text += f"\n  hint: {hint}" if hint else ""
        return text + (f"\n  request id: {self.request_id}" if self.request_id else "")


_HINTS = {
    401: "the token is missing or invalid (--token or ONSHI_INSURER_TOKEN)",
    403: "this token may not upload for this insurer number",
    404: "unknown insurer number for this token, or unknown batch",
    409: "this Idempotency-Key was used with another file: pass a new --idempotency-key",
    413: "the file is larger than the service accepts: split it",
    415: "wrong media type: name the file .csv/.ndjson or pass --content-type",
}


@dataclass(frozen=True)
class Retry:
    """Exponential backoff for network errors and 429/502/503/504 (safe: requests are idempotent)."""

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (honours a numeric Retry-After)."""
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


DEFAULT_RETRY = Retry()


@dataclass(frozen=True)
class Accepted:
    """The service's 202 answer to an upload."""

    batch_id: str
    status_url: str


# Upload


def content_type_for(path: Path, override: str | None = None) -> str:
    """The media type of the upload: `override`, else from the file extension."""
    if override:
        return override
    try:
        return MEDIA_TYPES[path.suffix.lower()]
    except KeyError:
        raise UploadFailed(f"cannot tell the media type of {path.name}: use --content-type") from None


def file_sha256(path: Path, chunk_size: int = CHUNK_SIZE) -> str:
    """Hex SHA-256 of the file, read in chunks (the default Idempotency-Key)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def iter_file(path: Path, bar: tqdm[Any], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the file chunk by chunk, advancing the byte progress bar as each chunk is sent."""
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            yield chunk
            bar.update(len(chunk))


def batches_path(insurer_number: str, kind: str) -> str:
    """The collection URL path of a batch kind for an insurer."""
    return f"/v1/insurers/{insurer_number}/{kind}-batches"


def upload(
    client: httpx.Client,
    *,
    path: Path,
    insurer_number: str,
    kind: str = "eligibility",
    content_type: str | None = None,
    idempotency_key: str | None = None,
    retry: Retry = DEFAULT_RETRY,
    progress: bool | None = False,
    chunk_size: int = CHUNK_SIZE,
) -> Accepted:
    """Stream the file as one batch (retrying network errors) and return the accepted batch."""
    size = path.stat().st_size
    headers = {
        "Content-Type": content_type_for(path, content_type),
        "Content-Length": str(size),
        "Idempotency-Key": idempotency_key or file_sha256(path, chunk_size),
    }
    url = batches_path(insurer_number, kind)
    with tqdm(
        total=size, unit="B", unit_scale=True, unit_divisor=1024, desc="upload", disable=_off(progress)
    ) as bar:

        def send() -> httpx.Response:
            bar.reset(total=size)
            return client.post(url, content=iter_file(path, bar, chunk_size), headers=headers)

        response = send_with_retry(send, retry=retry, what="upload")
    return _accepted(_json_object(response), insurer_number=insurer_number, kind=kind)


def _accepted(body: Status, *, insurer_number: str, kind: str) -> Accepted:
    if "batch_id" not in body:
        raise UploadFailed(f"the service accepted the upload but sent no batch_id: {dict(body)}")
    batch_id = str(body["batch_id"])
    status_url = body.get("status_url") or f"{batches_path(insurer_number, kind)}/{batch_id}"
    return Accepted(batch_id=batch_id, status_url=str(status_url))


def _json_object(response: httpx.Response) -> Status:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UploadFailed(
            f"HTTP {response.status_code}: expected a JSON object, got {response.text[:200]!r}"
        )
    return body


def _where(exc: httpx.TransportError) -> str:
    """The address a failed request was sent to."""
    try:
        return f"tried {exc.request.url}"
    except RuntimeError:  # an error raised before the request was built
        return "no request was sent"


def send_with_retry(send: Callable[[], httpx.Response], *, retry: Retry, what: str) -> httpx.Response:
    """Call `send` until a final answer, backing off on network errors and 429/5xx; HttpError on non-2xx."""
    for attempt in range(1, retry.attempts + 1):
        try:
            response = send()
        except httpx.TransportError as exc:
            if attempt == retry.attempts:
                raise UploadFailed(
                    f"{what}: network error, giving up after {attempt} attempts: {exc} ({_where(exc)})"
                ) from exc
            _back_off(retry, attempt, f"{what}: network error ({type(exc).__name__}: {exc})")
            continue
        if response.status_code in RETRYABLE_STATUS and attempt < retry.attempts:
            _back_off(
                retry, attempt, f"{what}: HTTP {response.status_code}", response.headers.get("Retry-After")
            )
            continue
        if response.is_error:
            raise HttpError(response)
        return response
    raise AssertionError("unreachable: the last attempt returns or raises")


def _back_off(retry: Retry, attempt: int, reason: str, retry_after: str | None = None) -> None:
    delay = retry.delay(attempt, retry_after)
    print(f"{reason}; retrying in {delay:g} s (attempt {attempt + 1} of {retry.attempts})", file=sys.stderr)
    retry.sleep(delay)


# Waiting for the batch


def rows_processed(status: Status) -> int:
    """Rows handled so far: `rows_processed`, else accepted + rejected."""
    if status.get("rows_processed") is not None:
        return int(status["rows_processed"])
    return int(status.get("rows_accepted") or 0) + int(status.get("rows_rejected") or 0)


def wait_for_batch(
    client: httpx.Client,
    status_url: str,
    *,
    poll_interval: float = 1.0,
    timeout: float | None = None,
    retry: Retry = DEFAULT_RETRY,
    progress: bool | None = False,
    clock: Callable[[], float] = time.monotonic,
) -> Status:
    """Poll the batch status until it is done or failed, showing rows processed; return the final status."""
    deadline = None if timeout is None else clock() + timeout
    with tqdm(unit="row", desc="rows", disable=_off(progress)) as bar:
        while True:
            status = _json_object(send_with_retry(lambda: client.get(status_url), retry=retry, what="status"))
            _show_rows(bar, status)
            if status.get("status") in FINAL_STATUSES:
                return status
            if deadline is not None and clock() >= deadline:
                raise UploadFailed(
                    f"the batch is still {status.get('status')} after {timeout:g} s: {status_url}"
                )
            retry.sleep(poll_interval)


def _show_rows(bar: tqdm[Any], status: Status) -> None:
    total = status.get("rows_total")
    if total is not None and bar.total != total:
        bar.total = int(total)
    bar.n = rows_processed(status)
    bar.set_postfix_str(str(status.get("status", "")), refresh=False)
    bar.refresh()


# Report


def exit_code(status: Status) -> int:
    """0 done without rejected rows, 1 done with rejected rows, 2 failed."""
    if status.get("status") != "done":
        return 2
    return 1 if int(status.get("rows_rejected") or 0) > 0 else 0


def format_summary(status: Status, *, batch_id: str | None = None) -> str:
    """A few lines: batch status, row counts, linking outcome."""
    name = f"batch {batch_id}" if batch_id else "batch"
    lines = [f"{name}: {status.get('status')}"]
    lines.append(
        f"rows: {_count(status, 'rows_total')} total, {_count(status, 'rows_accepted')} accepted, "
        f"{_count(status, 'rows_rejected')} rejected"
    )
    if "linked" in status or "needs_review" in status:
        lines.append(
            f"linking: {_count(status, 'linked')} linked, {_count(status, 'needs_review')} need review"
        )
    if status.get("failure"):
        lines.append(f"failure: {status['failure']}")
    return "\n".join(lines)


def _count(status: Status, key: str) -> str:
    value = status.get(key)
    return "?" if value is None else str(value)


def format_error_report(errors: Sequence[Mapping[str, Any]], *, limit: int | None = None) -> str:
    """The per-row errors as an aligned table (row, field, error, detail); '' when there are none."""
    if not errors:
        return ""
    shown = errors if limit is None else errors[:limit]
    table = [list(ERROR_COLUMNS)] + [_error_cells(error) for error in shown]
    widths = [max(_width(row[i]) for row in table) for i in range(len(ERROR_COLUMNS) - 1)]
    lines = [_table_line(row, widths) for row in table]
    lines.insert(1, _table_line(["-" * width for width in widths] + ["-" * 6], widths))
    if len(shown) < len(errors):
        lines.append(f"... and {len(errors) - len(shown)} more (all of them: --errors-csv FILE)")
    return "\n".join(lines)


def _error_cells(error: Mapping[str, Any]) -> list[str]:
    field_name = error.get("field")
    return [
        str(error.get("row", "")),
        field_name or "(row)",
        str(error.get("error", "")),
        str(error.get("detail", "")),
    ]


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def _width(text: str) -> int:
    """Terminal columns of the text: full-width (Japanese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def write_errors_csv(errors: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write the per-row errors as CSV (UTF-8 with BOM, so that Excel shows Japanese correctly)."""
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(ERROR_COLUMNS)
        writer.writerows([error.get(column, "") for column in ERROR_COLUMNS] for error in errors)


# Command line


def build_parser() -> argparse.ArgumentParser:
    """Arguments; --url and --token default to ONSHI_URL and ONSHI_INSURER_TOKEN."""
    parser = argparse.ArgumentParser(
        prog="python -m terminals.insurer_upload", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "file", type=Path, help="the batch: .csv (text/csv) or .ndjson/.jsonl (application/x-ndjson)"
    )
    parser.add_argument(
        "--url", default=default_url(),
        help="service base URL (default: ONSHI_URL, else http://ONSHI_HOST:ONSHI_PORT, i.e. 127.0.0.1:8000)",
    )
    parser.add_argument("--token", default=os.environ.get("ONSHI_INSURER_TOKEN"), help="insurer bearer token")
    parser.add_argument("--insurer", required=True, help="insurer number (保険者番号)")
    parser.add_argument("--kind", choices=KINDS, default="eligibility")
    parser.add_argument(
        "--content-type",
        help="override the media type from the extension (e.g. 'text/csv; charset=shift_jis')",
    )
    parser.add_argument(
        "--idempotency-key", help="default: SHA-256 of the file, so a re-run is the same batch"
    )
    parser.add_argument("--errors-csv", type=Path, help="also write the per-row errors to this CSV file")
    parser.add_argument("--max-errors", type=int, default=50, help="errors shown on screen (default 50)")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between status polls")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="give up waiting after this many seconds"
    )
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRY.attempts, help="attempts per request")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def make_client(url: str, token: str, *, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for the service with the insurer's bearer token and a request id."""
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4())}
    timeout = httpx.Timeout(60.0, connect=10.0)
    return httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    if not args.token:
        print("error: no token: pass --token or set ONSHI_INSURER_TOKEN", file=sys.stderr)
        return 2
    retry = Retry(attempts=max(args.retries, 1), sleep=sleep)
    try:
        with make_client(args.url, args.token, transport=transport) as client:
            status, batch_id = _run(client, args, retry)
    except UploadFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume (same file, same batch)", file=sys.stderr)
        return 130
    _report(status, batch_id, args)
    return exit_code(status)


def _run(client: httpx.Client, args: argparse.Namespace, retry: Retry) -> tuple[Status, str]:
    progress = False if args.no_progress else None
    if not args.file.is_file():
        raise UploadFailed(f"no such file: {args.file}")
    accepted = upload(
        client, path=args.file, insurer_number=args.insurer, kind=args.kind, content_type=args.content_type,
        idempotency_key=args.idempotency_key, retry=retry, progress=progress,
    )  # fmt: skip
    print(f"batch {accepted.batch_id} accepted; waiting for it to be processed", file=sys.stderr)
    status = wait_for_batch(
        client, accepted.status_url, poll_interval=args.poll_interval, timeout=args.timeout, retry=retry,
        progress=progress,
    )  # fmt: skip
    return status, accepted.batch_id


def _report(status: Status, batch_id: str, args: argparse.Namespace) -> None:
    errors = list(status.get("errors") or [])
    print(format_summary(status, batch_id=batch_id))
    if errors:
        print()
        print(format_error_report(errors, limit=args.max_errors))
    if args.errors_csv is not None:
        write_errors_csv(errors, args.errors_csv)
        print(f"{len(errors)} errors written to {args.errors_csv}", file=sys.stderr)


def _off(progress: bool | None) -> bool | None:
    """tqdm's `disable`: None lets tqdm decide (off when stderr is not a terminal)."""
    return None if progress is None else not progress


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "http_error", response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"]), str(body.get("detail", ""))
    return "http_error", response.text[:500]


if __name__ == "__main__":
    raise SystemExit(main())
