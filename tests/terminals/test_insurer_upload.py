"""The insurer upload client against a mocked HTTP service (the server has its own real-service tests)."""

from __future__ import annotations

import ast
import csv
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from terminals import insurer_upload
from terminals.insurer_upload import (
    HttpError,
    Retry,
    UploadFailed,
    content_type_for,
    exit_code,
    format_error_report,
    format_summary,
    main,
    make_client,
    rows_processed,
    upload,
    wait_for_batch,
    write_errors_csv,
)

INSURER = "33120015"
STATUS_URL = f"/v1/insurers/{INSURER}/eligibility-batches/b-1"
ERRORS: list[dict[str, Any]] = [
    {
        "row": 3,
        "field": "sex",
        "error": "invalid_choice",
        "detail": "must be 1 (male) or 2 (female) (got 'M')",
    },
    {"row": 12, "field": "name_kana", "error": "invalid_format", "detail": "must be kana (カナ)"},
    {"row": 40, "field": None, "error": "no_measurements", "detail": "the row has no measured value"},
]
Handler = Callable[[httpx.Request], httpx.Response]


class RecordingTransport(httpx.MockTransport):
    """A MockTransport that keeps each request body as the client streamed it, chunk by chunk."""

    def __init__(self, handler: Handler) -> None:
        super().__init__(handler)
        self.bodies: list[list[bytes]] = []
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            chunks = [bytes(chunk) for chunk in request.stream]  # type: ignore[union-attr]
            self.bodies.append(chunks)
            request.stream = httpx.ByteStream(b"".join(chunks))
        return super().handle_request(request)


def status(state: str, **counts: Any) -> dict[str, Any]:
    """A status body as the contract describes it."""
    return {
        "status": state,
        "rows_total": None,
        "rows_accepted": 0,
        "rows_rejected": 0,
        "errors": [],
    } | counts


DONE = status("done", rows_total=3, rows_processed=3, rows_accepted=3, linked=2, needs_review=1)
DONE_WITH_ERRORS = status(
    "done",
    rows_total=5,
    rows_processed=5,
    rows_accepted=2,
    rows_rejected=3,
    linked=2,
    needs_review=0,
    errors=ERRORS,
)


class FakeService:
    """Answers the batch endpoints: 202 on upload (same batch for the same key), then the given statuses."""

    def __init__(
        self, statuses: list[dict[str, Any]], *, failures: list[Exception | httpx.Response] | None = None
    ):
        self.statuses = iter(statuses)
        self.failures = list(failures or [])
        self.keys: dict[str, str] = {}
        self.last_status: dict[str, Any] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        if request.method == "POST":
            key = request.headers["Idempotency-Key"]
            batch_id = self.keys.setdefault(key, f"b-{len(self.keys) + 1}")
            return httpx.Response(202, json={"batch_id": batch_id, "status_url": STATUS_URL})
        self.last_status = next(self.statuses, self.last_status)
        return httpx.Response(200, json=self.last_status)


class Sleeps:
    """A recording stand-in for time.sleep."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "members.csv"
    lines = ["record_id,action,name_kanji"] + [f"R-{i:05d},upsert,山田 太郎" for i in range(8000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def client_for(transport: httpx.BaseTransport) -> httpx.Client:
    return make_client("http://onshi.test", "secret-token", transport=transport)


def fast_retry(sleeps: Sleeps, attempts: int = 4) -> Retry:
    return Retry(attempts=attempts, sleep=sleeps)


# Upload


def test_upload_streams_the_file_in_chunks(batch_file: Path) -> None:
    transport = RecordingTransport(FakeService([]))
    with client_for(transport) as client:
        accepted = upload(client, path=batch_file, insurer_number=INSURER, chunk_size=16 * 1024)
    [chunks] = transport.bodies
    [request] = transport.requests
    assert len(chunks) > 5 and all(len(chunk) <= 16 * 1024 for chunk in chunks)
    assert b"".join(chunks) == batch_file.read_bytes()
    assert request.url == f"http://onshi.test/v1/insurers/{INSURER}/eligibility-batches"
    assert request.headers["Content-Length"] == str(batch_file.stat().st_size)
    assert "Transfer-Encoding" not in request.headers
    assert request.headers["Content-Type"] == "text/csv"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert (accepted.batch_id, accepted.status_url) == ("b-1", STATUS_URL)


def test_idempotency_key_defaults_to_the_files_sha256(batch_file: Path) -> None:
    service = FakeService([])
    transport = RecordingTransport(service)
    with client_for(transport) as client:
        first = upload(client, path=batch_file, insurer_number=INSURER)
        again = upload(client, path=batch_file, insurer_number=INSURER)
    keys = [request.headers["Idempotency-Key"] for request in transport.requests]
    assert keys == [hashlib.sha256(batch_file.read_bytes()).hexdigest()] * 2
    assert first == again  # re-running the same upload gives back the same batch


def test_explicit_idempotency_key_content_type_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "checkups.jsonl"
    path.write_text('{"record_id": "K-1"}\n', encoding="utf-8")
    transport = RecordingTransport(FakeService([]))
    with client_for(transport) as client:
        upload(client, path=path, insurer_number=INSURER, kind="checkup", idempotency_key="k-42")
    [request] = transport.requests
    assert request.url.path == f"/v1/insurers/{INSURER}/checkup-batches"
    assert request.headers["Idempotency-Key"] == "k-42"
    assert request.headers["Content-Type"] == "application/x-ndjson"


@pytest.mark.parametrize(
    ("name", "override", "expected"),
    [
        ("a.csv", None, "text/csv"),
        ("A.CSV", None, "text/csv"),
        ("a.ndjson", None, "application/x-ndjson"),
        ("a.jsonl", None, "application/x-ndjson"),
        ("a.txt", "text/csv; charset=shift_jis", "text/csv; charset=shift_jis"),
    ],
)
def test_content_type_for(name: str, override: str | None, expected: str) -> None:
    assert content_type_for(Path(name), override) == expected


def test_content_type_of_an_unknown_extension_asks_for_an_override() -> None:
    with pytest.raises(UploadFailed, match="--content-type"):
        content_type_for(Path("members.xlsx"))


# Retries


def test_connect_errors_are_retried_with_backoff_and_the_same_key(
    batch_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = httpx.ConnectError("connection refused")
    transport = RecordingTransport(FakeService([], failures=[refused, refused]))
    sleeps = Sleeps()
    with client_for(transport) as client:
        accepted = upload(client, path=batch_file, insurer_number=INSURER, retry=fast_retry(sleeps))
    assert accepted.batch_id == "b-1"
    assert sleeps.calls == [1.0, 2.0]  # exponential backoff
    assert len({request.headers["Idempotency-Key"] for request in transport.requests}) == 1
    assert b"".join(transport.bodies[-1]) == batch_file.read_bytes()  # the retry streams the whole file again
    err = capsys.readouterr().err
    assert err.count("retrying in") == 2 and "ConnectError" in err


def test_network_errors_give_up_after_the_attempts(batch_file: Path) -> None:
    refused = httpx.ConnectError("connection refused")
    sleeps = Sleeps()
    with (
        client_for(RecordingTransport(FakeService([], failures=[refused] * 3))) as client,
        pytest.raises(UploadFailed, match="giving up after 3 attempts"),
    ):
        upload(client, path=batch_file, insurer_number=INSURER, retry=fast_retry(sleeps, attempts=3))
    assert sleeps.calls == [1.0, 2.0]


def test_backoff_is_capped_and_honours_retry_after() -> None:
    retry = Retry(base_delay=1.0, max_delay=5.0)
    assert [retry.delay(attempt) for attempt in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert retry.delay(1, "3") == 3.0


def test_rate_limit_is_retried_after_retry_after(batch_file: Path) -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "3"}, json={"error": "rate_limited", "detail": "slow"}
    )
    sleeps = Sleeps()
    with client_for(RecordingTransport(FakeService([], failures=[limited]))) as client:
        upload(client, path=batch_file, insurer_number=INSURER, retry=fast_retry(sleeps))
    assert sleeps.calls == [3.0]


def test_contract_error_is_raised_with_code_and_detail(batch_file: Path) -> None:
    clash = httpx.Response(
        409,
        headers={"X-Request-ID": "req-9"},
        json={"error": "idempotency_conflict", "detail": "key used with another body"},
    )
    with client_for(RecordingTransport(FakeService([], failures=[clash]))) as client:
        with pytest.raises(HttpError) as raised:
            upload(client, path=batch_file, insurer_number=INSURER)
    error = raised.value
    assert (error.status_code, error.error, error.detail) == (
        409,
        "idempotency_conflict",
        "key used with another body",
    )
    assert "HTTP 409 idempotency_conflict: key used with another body" in str(error)
    assert "--idempotency-key" in str(error) and "req-9" in str(error)


def test_non_json_error_body_is_still_readable(batch_file: Path) -> None:
    gateway = httpx.Response(502, text="<html>Bad Gateway</html>")
    with client_for(RecordingTransport(FakeService([], failures=[gateway] * 2))) as client:
        with pytest.raises(HttpError, match="HTTP 502 http_error: <html>Bad Gateway"):
            upload(client, path=batch_file, insurer_number=INSURER, retry=fast_retry(Sleeps(), attempts=2))


# Waiting for the batch


def test_wait_polls_until_done() -> None:
    service = FakeService(
        [status("queued"), status("running", rows_total=3, rows_processed=1), DONE, status("failed")]
    )
    transport = RecordingTransport(service)
    sleeps = Sleeps()
    with client_for(transport) as client:
        final = wait_for_batch(client, STATUS_URL, poll_interval=0.5, retry=fast_retry(sleeps))
    assert final == DONE
    assert [request.url.path for request in transport.requests] == [STATUS_URL] * 3
    assert sleeps.calls == [0.5, 0.5]


def test_wait_retries_a_lost_status_poll() -> None:
    service = FakeService([DONE], failures=[httpx.ReadTimeout("slow")])
    sleeps = Sleeps()
    with client_for(RecordingTransport(service)) as client:
        assert wait_for_batch(client, STATUS_URL, retry=fast_retry(sleeps)) == DONE
    assert sleeps.calls == [1.0]


def test_wait_gives_up_at_the_timeout() -> None:
    ticks: Iterator[float] = iter([0.0, 5.0, 11.0])
    service = FakeService([status("running")] * 5)
    with (
        client_for(RecordingTransport(service)) as client,
        pytest.raises(UploadFailed, match="still running"),
    ):
        wait_for_batch(
            client, STATUS_URL, timeout=10.0, retry=fast_retry(Sleeps()), clock=lambda: next(ticks)
        )


def test_progress_bar_counts_rows(capsys: pytest.CaptureFixture[str]) -> None:
    service = FakeService([status("running", rows_total=10, rows_accepted=3, rows_rejected=1), DONE])
    with client_for(RecordingTransport(service)) as client:
        wait_for_batch(client, STATUS_URL, retry=fast_retry(Sleeps()), progress=True)
    err = capsys.readouterr().err
    assert "4/10" in err and "3/3" in err


@pytest.mark.parametrize(
    ("body", "processed"),
    [
        ({"rows_processed": 7, "rows_accepted": 1, "rows_rejected": 1}, 7),
        ({"rows_accepted": 5, "rows_rejected": 2}, 7),  # no rows_processed: accepted + rejected
        ({"rows_processed": None, "rows_accepted": 4, "rows_rejected": None}, 4),
        ({}, 0),
    ],
)
def test_rows_processed(body: dict[str, Any], processed: int) -> None:
    assert rows_processed(body) == processed


# Report


def test_exit_codes() -> None:
    assert exit_code(DONE) == 0
    assert exit_code(DONE_WITH_ERRORS) == 1
    assert exit_code(status("failed", rows_rejected=0)) == 2


def test_summary() -> None:
    assert format_summary(DONE_WITH_ERRORS, batch_id="b-1").splitlines() == [
        "batch b-1: done",
        "rows: 5 total, 2 accepted, 3 rejected",
        "linking: 2 linked, 0 need review",
    ]


def test_error_report_is_an_aligned_table() -> None:
    lines = format_error_report(ERRORS).splitlines()
    assert lines[0].split() == ["row", "field", "error", "detail"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:3] == ["3", "sex", "invalid_choice"]
    assert lines[3].endswith("must be kana (カナ)")
    assert lines[4].split()[:3] == ["40", "(row)", "no_measurements"]
    detail_column = {line.index(error["detail"]) for line, error in zip(lines[2:], ERRORS, strict=True)}
    assert len(detail_column) == 1


def test_error_report_aligns_full_width_text() -> None:
    errors = [
        {"row": 1, "field": "氏名", "error": "e", "detail": "d1"},
        {"row": 2, "field": "ab", "error": "e", "detail": "d2"},
    ]
    first, second = format_error_report(errors).splitlines()[2:]
    # 氏名 takes four terminal columns, so its line has two characters fewer before the detail.
    assert first.index("d1") == second.index("d2") - 2


def test_error_report_limit_and_empty() -> None:
    report = format_error_report(ERRORS, limit=1)
    assert "... and 2 more" in report and "name_kana" not in report
    assert format_error_report([]) == ""


def test_errors_csv(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    write_errors_csv(ERRORS, path)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert rows[1] == {
        "row": "12",
        "field": "name_kana",
        "error": "invalid_format",
        "detail": "must be kana (カナ)",
    }
    assert rows[2]["field"] == ""
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Japanese correctly


# Command line


def run_main(args: list[str], service: FakeService) -> tuple[int, RecordingTransport]:
    transport = RecordingTransport(service)
    code = main([*args, "--no-progress", "--poll-interval", "0"], transport=transport, sleep=Sleeps())
    return code, transport


def test_main_done_without_rejections_exits_0(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ONSHI_URL", "http://from-env.test:9000")
    monkeypatch.setenv("ONSHI_INSURER_TOKEN", "env-token")
    code, transport = run_main(["--insurer", INSURER, str(batch_file)], FakeService([status("queued"), DONE]))
    assert code == 0
    post = transport.requests[0]
    assert str(post.url).startswith("http://from-env.test:9000/v1/insurers/")
    assert post.headers["Authorization"] == "Bearer env-token"
    out = capsys.readouterr().out
    assert "batch b-1: done" in out and "rows: 3 total, 3 accepted, 0 rejected" in out


def test_main_with_rejected_rows_exits_1_and_reports_them(
    batch_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors_csv = tmp_path / "rejected.csv"
    args = ["--token", "t", "--insurer", INSURER, "--errors-csv", str(errors_csv), str(batch_file)]
    code, _ = run_main(args, FakeService([DONE_WITH_ERRORS]))
    assert code == 1
    out = capsys.readouterr().out
    assert "3 rejected" in out and "invalid_choice" in out and "must be kana (カナ)" in out
    assert len(errors_csv.read_text(encoding="utf-8-sig").splitlines()) == 1 + len(ERRORS)


def test_main_failed_batch_exits_2(batch_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failed = status("failed", rows_total=None, failure="the body is not valid UTF-8")
    code, _ = run_main(["--token", "t", "--insurer", INSURER, str(batch_file)], FakeService([failed]))
    assert code == 2
    assert "failure: the body is not valid UTF-8" in capsys.readouterr().out


def test_main_http_error_exits_2_with_the_contract_error(
    batch_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = httpx.Response(401, json={"error": "unauthorized", "detail": "invalid token"})
    args = ["--token", "tok-0123-secret", "--insurer", INSURER, str(batch_file)]
    code, _ = run_main(args, FakeService([], failures=[denied]))
    assert code == 2
    err = capsys.readouterr().err
    assert "HTTP 401 unauthorized: invalid token" in err and "ONSHI_INSURER_TOKEN" in err
    assert "tok-0123-secret" not in err


def test_main_without_token_exits_2(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ONSHI_INSURER_TOKEN", raising=False)
    code, transport = run_main(["--insurer", INSURER, str(batch_file)], FakeService([DONE]))
    assert code == 2 and transport.requests == []
    assert "ONSHI_INSURER_TOKEN" in capsys.readouterr().err


def test_main_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_main(
        ["--token", "t", "--insurer", INSURER, str(tmp_path / "nope.csv")], FakeService([DONE])
    )
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_client_imports_nothing_from_the_service() -> None:
    tree = ast.parse(Path(insurer_upload.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name == "service" or name.startswith("service.") for name in imported)
