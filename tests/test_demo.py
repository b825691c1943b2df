"""The demo `python -m service --demo` seeds: every flow in the README can be tried with it."""

from __future__ import annotations

import asyncpg
import pytest

from service import demo
from service.core.settings import Settings
from virtualcard import VirtualCard


@pytest.mark.usefixtures("clean")
async def test_the_demo_seeds_once_and_each_card_is_in_its_promised_state(
    settings: Settings, conn: asyncpg.Connection, tmp_path_factory: pytest.TempPathFactory
) -> None:
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("demo-data")})
    seeded = await demo.seed(own)
    states = {c["holder"]: c.get("registration", "not registered") for c in seeded["cards"]}
    assert states == {"山田 太郎": "linked", "佐藤 花子": "linked", "髙橋 健": "needs_review",
                      "鈴木 由紀": "not registered", "星野 ひかり": "linked"}
    batches = {r["kind"]: (r["status"], r["rows_rejected"]) for r in await conn.fetch(
        "SELECT kind, status, rows_rejected FROM batches")}
    assert batches == {"eligibility": ("done", 0), "checkup": ("done", 0), "medication": ("done", 0)}
    face = next(c for c in seeded["cards"] if "camera" in c)
    assert VirtualCard.load(face["card"]).face_image[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # JPEG 2000
    assert await demo.seed(own) == seeded  # the second start prints the same demo, seeds nothing new
    assert await conn.fetchval("SELECT count(*) FROM facilities") == 2
    described = demo.describe(seeded, base_url="http://127.0.0.1:8000")
    assert "face demo: --presence face --camera simulate:astronaut" in described
    assert f"--camera {face['camera']}  (a recording of her: refused as a replay)" in described
