"""Access log, log formats and /metrics as an operator reads them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from service.core.logging import access, configure_logging, get_logger
from service.core.settings import Settings
from tests.factories import STAFF_PASSWORD, bearer, make_insurer, make_named_facility, make_staff

ROOT = Path(__file__).resolve().parents[2]
Lines = Callable[[], list[str]]


@pytest.fixture
def access_lines(settings: Settings) -> Iterator[Lines]:
    """Logs (events and access lines, JSON) into a buffer for the test; read() flushes the access log first."""
    buffer = io.StringIO()
    configure_logging(level="INFO", log_format="json", stream=buffer)

    def read() -> list[str]:
        access.flush()
        return buffer.getvalue().splitlines()

    yield read
    configure_logging(level=settings.log_level, log_format=settings.effective_log_format)


def _requests(lines: list[str]) -> list[dict[str, object]]:
    parsed = [json.loads(line) for line in lines]
    return [entry for entry in parsed if entry.get("logger") == "onshi.access"]


async def test_one_access_line_per_request_with_its_id_and_no_personal_data(
    client: httpx.AsyncClient, conn: asyncpg.Connection, access_lines: Lines
) -> None:
    insurer = await make_insurer(conn)
    asked = f"/v1/insurers/{insurer['insurer_number']}/link-reviews?name=山田太郎&birthdate=1980-04-01"
    answered = await client.get(asked, headers={**bearer(insurer["token"]), "X-Request-ID": "support-ticket-42"})
    assert answered.status_code == 200
    refused = await client.get("/v1/insurers/06130017/link-reviews", headers=bearer("oni_not-a-token"))
    assert refused.status_code == 401
    unknown = await client.get("/no/such/山田太郎?token=secret")
    assert unknown.status_code == 404
    lines = access_lines()
    entries = _requests(lines)
    assert len(entries) == 3
    by_id = {entry["request_id"]: entry for entry in entries}
    line = by_id["support-ticket-42"]
    assert {k: v for k, v in line.items() if k not in {"timestamp", "duration_ms"}} == {
        "level": "info", "logger": "onshi.access", "event": "request", "method": "GET",
        "route": "/v1/insurers/{insurer_number}/link-reviews", "status": 200, "request_id": "support-ticket-42",
        "principal": "insurer",
    }
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert by_id[refused.headers["x-request-id"]]["principal"] == "anonymous"
    assert by_id[unknown.headers["x-request-id"]]["route"] == "unmatched"
    text = "\n".join(line for line in lines if json.loads(line)["logger"] != "httpx")  # the server's lines
    for secret in ("山田", "1980-04-01", insurer["insurer_number"], insurer["token"], "oni_not-a-token", "secret",
                   "/no/such"):
        assert secret not in text


async def test_a_staff_request_is_logged_as_staff(
    client: httpx.AsyncClient, conn: asyncpg.Connection, access_lines: Lines
) -> None:
    facility = await make_named_facility(conn, type_="clinic")
    await make_staff(conn, facility_code=facility, role="doctor", login="dr-log")
    login = await client.post("/v1/staff/login", json={"login": "dr-log", "password": STAFF_PASSWORD})
    assert login.status_code == 200, login.text
    listed = await client.get("/v1/viewer/consents")
    assert listed.status_code == 200
    entry = next(e for e in _requests(access_lines()) if e["request_id"] == listed.headers["x-request-id"])
    assert (entry["route"], entry["principal"]) == ("/v1/viewer/consents", "staff")


def test_development_writes_console_lines_and_production_json(settings: Settings) -> None:
    assert Settings(env="development").effective_log_format == "console"
    assert Settings(env="test", log_json=True).effective_log_format == "json"  # the older setting still counts
    assert Settings(env="development", log_format="json").effective_log_format == "json"
    production = settings.model_copy(update={"env": "production"})
    assert production.effective_log_format == "json"
    try:
        for log_format in ("console", "json"):
            buffer = io.StringIO()
            configure_logging(level="INFO", log_format=log_format, stream=buffer)
            get_logger("onshi.test").info("batch finished", rows=3)
            access.request("GET", "/readyz", 200, 0.0012, "rid-1", "anonymous")
            access.flush()
            lines = buffer.getvalue().splitlines()
            assert len(lines) == 2
            if log_format == "json":
                event, request = (json.loads(line) for line in lines)
                assert (event["event"], event["rows"], event["level"]) == ("batch finished", 3, "info")
                assert (request["route"], request["status"], request["request_id"]) == ("/readyz", 200, "rid-1")
            else:
                assert not any(line.lstrip().startswith("{") for line in lines)
                assert "batch finished" in lines[0] and "rows=3" in lines[0]
                assert "GET /readyz 200 1.2 ms principal=anonymous request_id=rid-1" in lines[1]
    finally:
        configure_logging(level=settings.log_level, log_format=settings.effective_log_format)


async def test_metrics_carry_process_and_python_runtime_metrics(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    for family in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                   "process_start_time_seconds", "python_info", "python_gc_collections_total",
                   "python_gc_objects_collected_total"):
        assert f"\n{family}" in text, family


async def test_docs_routes_are_labelled_by_their_route(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/docs/assets/swagger-ui.css", "/redoc", "/openapi.json", "/"):
        assert (await client.get(path)).status_code == 200, path
    text = (await client.get("/metrics")).text
    for route in ("/docs", "/docs/assets/{name}", "/redoc", "/openapi.json", "/"):
        assert f'onshi_http_requests_total{{method="GET",route="{route}",status="200"}}' in text, route
    assert 'route="unmatched",status="200"' not in text


def _admin(settings: Settings, *args: str) -> dict[str, object]:
    """The installed console script, as an operator runs it."""
    env = {**os.environ, "DATABASE_URL": str(settings.database_url), "ONSHI_DATA_DIR": str(settings.data_dir),
           "ONSHI_ENV": "test"}
    script = Path(sys.executable).parent / "onshi-admin"
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _admin_counts(text: str) -> dict[str, float]:
    prefix = 'onshi_admin_certificate_actions_total{action="'
    return {line[len(prefix):].split('"')[0]: float(line.split()[-1]) for line in text.splitlines()
            if line.startswith(prefix)}


async def test_admin_certificate_actions_are_counted_on_metrics(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    assert _admin_counts((await client.get("/metrics")).text) == {}
    card = tmp_path / "card.json"
    issued = _admin(settings, "issue-card", "--out", str(card), "--name-kanji", "山田 太郎", "--name-kana",
                    "ヤマダ タロウ", "--birthdate", "1980-04-01", "--sex", "1",
                    "--address", "東京都千代田区霞が関1-2-3", "--pin", "1234")
    _admin(settings, "suspend-card", "--serial", str(issued["serial"]))
    _admin(settings, "release-card", "--serial", str(issued["serial"]))
    _admin(settings, "suspend-card", "--serial", str(issued["serial"]))
    _admin(settings, "create-facility", "--code", "1310000001", "--name", "オンシ医院", "--type", "clinic")  # not one
    text = (await client.get("/metrics")).text
    assert _admin_counts(text) == {"issue": 1.0, "suspend": 2.0, "release": 1.0}
    assert "# TYPE onshi_admin_certificate_actions_total counter" in text


def test_a_forked_worker_mints_request_ids_of_its_own() -> None:
    from service.core.middleware import _new_request_id

    parent = _new_request_id()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports its first id
        os.write(write, _new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    in_child = os.read(read, 64).decode()
    os.close(read)
    assert len(in_child) == len(parent) == 32
    assert in_child[:16] != parent[:16]  # another random prefix, so no id repeats across workers
    assert _new_request_id()[:16] == parent[:16]
