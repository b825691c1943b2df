"""`python -m service.admin` as an operator runs it: a subprocess on the same database, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.core.settings import Settings
from virtualcard import VirtualCard

ROOT = Path(__file__).resolve().parents[1]


def admin(settings: Settings, *args: str, expect: int = 0) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": str(settings.database_url), "ONSHI_DATA_DIR": str(settings.data_dir),
           "ONSHI_ENV": "test"}
    done = subprocess.run([sys.executable, "-m", "service.admin", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == expect, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.usefixtures("clean")
def test_accounts_from_the_command_line(settings: Settings) -> None:
    assert admin(settings, "create-facility", "--code", "1310000001", "--name", "オンシ医院", "--type", "clinic") == {
        "facility_code": "1310000001"}
    terminal = admin(settings, "create-terminal", "--facility", "1310000001")
    assert terminal["token"].startswith("ont_")
    staff = admin(settings, "create-staff", "--facility", "1310000001", "--role", "doctor", "--login", "dr",
                  "--password", "long enough password")
    assert "staff_id" in staff
    insurer = admin(settings, "create-insurer", "--number", "06130017", "--name", "健保")
    assert insurer["insurer_number"] == "06130017"
    assert admin(settings, "create-operator")["token"].startswith("ono_")
    assert admin(settings, "create-claims-processor")["token"].startswith("onc_")


@pytest.mark.usefixtures("clean")
def test_errors_are_json_with_exit_status_2(settings: Settings) -> None:
    bad = admin(settings, "create-insurer", "--number", "06130018", "--name", "x", expect=2)
    assert bad["error"] == "invalid_insurer_number"
    missing = admin(settings, "create-terminal", "--facility", "9999999999", expect=2)
    assert missing["error"] == "facility_not_found"
    admin(settings, "create-facility", "--code", "1310000001", "--name", "a", "--type", "clinic")
    dup = admin(settings, "create-facility", "--code", "1310000001", "--name", "a", "--type", "clinic", expect=2)
    assert dup["error"] == "already_exists"


async def test_issue_renew_and_suspend_a_card(settings: Settings, conn: asyncpg.Connection, tmp_path: Path) -> None:
    card_file = tmp_path / "card.json"
    issued = admin(settings, "issue-card", "--out", str(card_file), "--name-kanji", "山田 太郎", "--name-kana",
                   "ヤマダ タロウ", "--birthdate", "1980-04-01", "--sex", "1", "--address", "東京都千代田区霞が関1-2-3",
                   "--pin", "1234")
    card = VirtualCard.load(card_file)
    assert card.serial == issued["serial"]
    assert card.pin_retry_limit == 3
    renewed = admin(settings, "renew-card", "--card", str(card_file))
    assert renewed["old_serial"] == issued["serial"]
    assert VirtualCard.load(card_file).serial == renewed["serial"] != issued["serial"]
    suspended = admin(settings, "suspend-card", "--serial", renewed["serial"])
    assert suspended["status"] == "suspended"
    statuses = dict(await conn.fetch("SELECT serial, status FROM certificates"))  # type: ignore[arg-type]
    assert statuses == {issued["serial"]: "revoked", renewed["serial"]: "suspended"}


@pytest.mark.usefixtures("clean")
def test_issue_card_refuses_bad_input(settings: Settings, tmp_path: Path) -> None:
    bad_pin = admin(settings, "issue-card", "--out", str(tmp_path / "c.json"), "--name-kanji", "a", "--name-kana",
                    "ア", "--birthdate", "1980-04-01", "--sex", "1", "--address", "x", "--pin", "12", expect=2)
    assert bad_pin["error"] == "invalid_input"
    assert not (tmp_path / "c.json").exists()


async def test_verify_audit_reports_the_first_broken_entry(
    settings: Settings, conn: asyncpg.Connection, owner: asyncpg.Connection
) -> None:
    from service.audit import service as audit

    async with conn.transaction():
        for i in range(3):
            await audit.record(conn, action="verification", actor="terminal:t1", subject={"n": i})
    verified = admin(settings, "verify-audit")
    assert (verified["intact"], verified["entries"], verified["breaks"]) == (True, 3, [])
    await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        await owner.execute("UPDATE audit_log SET entry = replace(entry, '\"n\":1', '\"n\":7') WHERE seq = 2")
    finally:
        await owner.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    broken = admin(settings, "verify-audit", expect=1)
    assert broken["intact"] is False
    assert [(b["seq"], "modified" in b["problem"]) for b in broken["breaks"]] == [(2, True)]


@pytest.mark.usefixtures("clean")
def test_a_missing_photo_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    missing = admin(settings, "issue-card", "--out", str(tmp_path / "c.json"), "--name-kanji", "山田 太郎",
                    "--name-kana", "ヤマダ タロウ", "--birthdate", "1980-04-01", "--sex", "1", "--address", "東京都",
                    "--photo", str(tmp_path / "nope.png"), expect=2)
    assert missing["error"] == "file_error"
    assert "nope.png" in missing["detail"]


@pytest.mark.usefixtures("clean")
def test_partitions_are_listed_and_retention_is_a_dry_run_unless_applied(settings: Settings) -> None:
    shown = admin(settings, "partitions", "--retention-months", "1")
    assert set(shown["tables"]) == {"verifications", "access_log", "audit_log"}
    months = shown["tables"]["verifications"]["months"]
    assert len(months) >= 4 and shown["tables"]["audit_log"]["default_rows"] == 0
    assert "would_drop" in shown and "dropped" not in shown  # nothing is dropped without --apply
    assert admin(settings, "partitions", "--retention-months", "1")["tables"]["verifications"]["months"] == months
