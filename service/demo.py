"""The demo data `python -m service --demo` seeds once and prints every time: enough to try each flow at once.

Facilities (a clinic and a pharmacy) with terminals and staff, two insurers, an operator, a claims processor,
virtual cards under `<data_dir>/demo/cards/`, and eligibility records uploaded through the real batch pipeline.
Credentials are printed and kept in `<data_dir>/demo/credentials.json` (demo only: tokens are stored hashed
in the database and cannot be shown again otherwise).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

from service import cards
from service.accounts import service as accounts
from service.app import batch_sinks
from service.authority.schemas import IdentityAttributes
from service.batches import service as batches
from service.batches.worker import BatchWorker
from service.core.database import Connection
from service.core.settings import Settings
from service.linking import service as linking
from service.runtime import connection, load_authority

ACTOR = "demo-seed"
CLINIC, PHARMACY = "1310000001", "1340000002"
INSURER_A, INSURER_B = "06130017", "06270011"
PASSWORD = "onshi-demo-pass"
# (file name, kanji, kana, birthdate, sex, address as the authority holds it, registers?, PIN)
HOLDERS = [
    ("yamada-taro", "山田 太郎", "ヤマダ タロウ", "1980-04-01", 1, "東京都千代田区霞が関1丁目2番3号", True, "1234"),
    ("sato-hanako", "佐藤 花子", "サトウ ハナコ", "1992-11-23", 2, "東京都新宿区西新宿2丁目8番1号", True, "2345"),
    ("takahashi-ken", "髙橋 健", "タカハシ ケン", "1975-07-07", 1, "東京都港区芝公園4丁目2番8号", True, "3456"),
    ("suzuki-yuki", "鈴木 由紀", "スズキ ユキ", "2001-02-14", 2, "大阪府大阪市北区梅田3丁目1番1号", False, "4567"),
    ("hoshino-hikari", "星野 ひかり", "ホシノ ヒカリ", "1985-08-19", 2, "東京都中央区銀座4丁目5番6号", True, "5678"),
]
FACE_HOLDER = "hoshino-hikari"  # her card carries a real face photo; the demo camera is a video of her
ELIGIBILITY_CSV = """record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,postal_code,qualified_on,disqualified_on,copay_ratio,limit_category
A-0001,upsert,12,345678,01,1,山田太郎,ﾔﾏﾀﾞ ﾀﾛｳ,1980-04-01,1,千代田区霞が関1-2-3,1000013,2020-04-01,,30,
A-0002,upsert,12,456789,01,1,佐藤花子,さとう はなこ,1992-11-23,2,東京都新宿区西新宿二丁目8番地1号,1600023,2018-04-01,2026-04-01,30,
A-0003,upsert,12,567890,01,1,高橋健,タカハシ ケン,1975-07-07,1,東京都港区芝公園4-2-8,1050011,2015-10-01,,30,
A-0004,upsert,12,678901,01,1,鈴木由紀,スズキ ユキ,2001-02-14,2,大阪府大阪市北区梅田3-1-1,5300001,2023-04-01,,30,
A-0005,upsert,12,789012,01,1,星野ひかり,ホシノ ヒカリ,1985-08-19,2,中央区銀座4-5-6,1040061,2021-04-01,,30,
"""
JOB_CHANGE_CSV = """record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,postal_code,qualified_on,disqualified_on,copay_ratio,limit_category
B-7001,upsert,かな,1001,01,1,佐藤花子,サトウ ハナコ,1992-11-23,2,新宿区西新宿2-8-1,1600023,2026-04-01,,30,
"""

MEDICATION_CSV = """record_id,insurer_number,symbol,number,branch,dispensed_on,drug_code,drug_name,quantity,unit,days,facility_code
RX-1001,06130017,12,345678,01,2026-09-12,2149039F1020,アムロジピン錠5mg,1,錠,28,1340000002
RX-1002,06130017,12,345678,01,2026-09-12,3969010F1024,メトホルミン塩酸塩錠250mg,2,錠,28,1340000002
RX-1003,06130017,12,345678,01,2026-06-10,2149039F1020,アムロジピン錠5mg,1,錠,28,1340000002
RX-1004,06130017,12,345678,01,2025-12-02,1149019F1560,ロキソプロフェンナトリウム錠60mg,3,錠,5,1340000002
RX-2001,06130017,12,456789,01,2025-11-20,4490023F1025,フェキソフェナジン塩酸塩錠60mg,2,錠,14,1340000002
"""
CHECKUP_CSV = """record_id,symbol,number,branch,examined_on,height_cm,weight_kg,bmi,waist_cm,systolic_bp,diastolic_bp,hba1c,ldl,hdl,triglycerides,ast,alt,gamma_gtp
KS-2022,12,345678,01,2022-06-15,170.1,71.0,24.5,86.0,132,84,5.9,138,52,150,24,28,45
KS-2023,12,345678,01,2023-06-14,170.0,72.4,25.1,88.0,136,86,6.1,142,50,162,26,31,52
KS-2024,12,345678,01,2024-06-12,170.2,73.9,25.5,90.5,141,88,6.4,151,48,178,29,35,61
KS-2025,12,345678,01,2025-06-11,170.0,72.8,25.2,89.0,138,85,6.3,146,49,170,27,33,58
"""


async def _body(text: str) -> AsyncIterator[bytes]:
    yield text.encode()


async def _upload(
    conn: Connection, *, insurer: str | None, csv_text: str, key: str, kind: str = "eligibility",
    owner: str | None = None,
) -> None:
    upload = batches.Upload(kind=kind, owner=owner or f"insurer:{insurer}", insurer_number=insurer,
                            idempotency_key=key, content_type="text/csv", content_length=None)
    await batches.receive(conn, upload=upload, body=_body(csv_text), max_bytes=1 << 20, chunk_bytes=1 << 20)


async def _accounts(conn: Connection) -> dict[str, Any]:
    out: dict[str, Any] = {"facilities": [], "staff": [], "insurers": []}
    for code, name, type_ in ((CLINIC, "オンシ内科クリニック", "clinic"), (PHARMACY, "オンシ薬局 霞が関店", "pharmacy")):
        await accounts.create_facility(conn, code=code, name=name, type_=type_)
        terminal = await accounts.create_terminal(conn, facility_code=code)
        out["facilities"].append({"facility_code": code, "name": name, "type": type_, **terminal})
    for facility, role, login in ((CLINIC, "reception", "clinic-reception"), (CLINIC, "doctor", "clinic-doctor"),
                                  (PHARMACY, "pharmacist", "pharmacy-pharmacist"),
                                  (PHARMACY, "reception", "pharmacy-reception")):
        await accounts.create_staff(conn, facility_code=facility, role=role, login=login, password=PASSWORD)
        out["staff"].append({"facility_code": facility, "role": role, "login": login, "password": PASSWORD})
    for number, name in ((INSURER_A, "オンシ健康保険組合"), (INSURER_B, "かなめ健康保険組合")):
        out["insurers"].append({"name": name, **await accounts.create_insurer(conn, number=number, name=name)})
    out["operator_token"] = (await accounts.create_operator(conn, name="demo operator"))["token"]
    out["claims_token"] = (await accounts.create_claims_processor(conn, name="demo claims"))["token"]
    return out


def _face_demo(demo_dir: Path) -> tuple[bytes, str, str]:
    """The face holder's chip photo and a camera video of her (JPEG 2000 photo, MJPG video path)."""
    from facematch.testing import write_live_demo

    video, photo = write_live_demo(demo_dir / "camera")
    return photo, "jp2", str(video)


async def _cards(conn: Connection, settings: Settings, demo_dir: Path) -> list[dict[str, Any]]:
    authority = load_authority(settings)
    face_photo, face_format, camera = _face_demo(demo_dir)
    issued = []
    for name, kanji, kana, born, sex, address, registers, pin in HOLDERS:
        identity = IdentityAttributes(name_kanji=kanji, name_kana=kana, birthdate=date.fromisoformat(born),
                                      sex=sex, address=address)
        photo = (face_photo, face_format) if name == FACE_HOLDER else cards.card_photo(None)
        card = await cards.issue_card(
            conn, authority=authority, out=demo_dir / "cards" / f"{name}.card.json", identity=identity,
            photo=photo, pin=pin, pin_retry_limit=3, actor=ACTOR,
        )
        extra = {"camera": camera} if name == FACE_HOLDER else {}
        issued.append({"holder": kanji, **card, "pin": pin, "registered": registers, **extra})
    return issued


async def _register(conn: Connection, issued: list[dict[str, Any]]) -> None:
    for card in issued:
        if card["registered"]:
            holder_id = await conn.fetchval("SELECT holder_id FROM certificates WHERE serial = $1", card["serial"])
            outcome = await linking.register(conn, holder_id=holder_id, serial=card["serial"], actor=ACTOR)
            card["registration"] = outcome.status


async def seed(settings: Settings) -> dict[str, Any]:
    """Seed the demo once; afterwards return what was seeded."""
    demo_dir = settings.data_dir / "demo"
    credentials = demo_dir / "credentials.json"
    if credentials.exists():
        loaded: dict[str, Any] = json.loads(credentials.read_text())
        async with connection(settings) as conn:
            await _current_states(conn, loaded["cards"])
        return loaded
    async with connection(settings) as conn:
        out = await _accounts(conn)
        out["cards"] = await _cards(conn, settings, demo_dir)
        await _upload(conn, insurer=INSURER_A, csv_text=ELIGIBILITY_CSV, key="demo-eligibility-1")
    await _process_batches(settings)
    async with connection(settings) as conn:
        await _register(conn, out["cards"])
        await _upload(conn, insurer=INSURER_B, csv_text=JOB_CHANGE_CSV, key="demo-job-change-1")
        await _upload(conn, insurer=INSURER_A, csv_text=CHECKUP_CSV, key="demo-checkups-1", kind="checkup")
        claims_id = await conn.fetchval("SELECT claims_processor_id::text FROM api_tokens WHERE kind = 'claims'")
        await _upload(conn, insurer=None, csv_text=MEDICATION_CSV, key="demo-medication-1", kind="medication",
                      owner=f"claims:{claims_id}")
    await _process_batches(settings)
    async with connection(settings) as conn:
        await _current_states(conn, out["cards"])  # as a restart reads them: one wording for both
    demo_dir.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(out, ensure_ascii=False, indent=2))
    credentials.chmod(0o600)
    return out


async def _current_states(conn: Connection, issued: list[dict[str, Any]]) -> None:
    """Each card as it is now (renewed, suspended, unlinked...), read from its file and the database."""
    from virtualcard import VirtualCard

    for card in issued:
        card["serial"] = VirtualCard.load(Path(card["card"])).serial
        row = await conn.fetchrow(
            "SELECT c.status, "
            "  EXISTS (SELECT 1 FROM registrations g WHERE g.holder_id = c.holder_id AND g.unregistered_at IS NULL) "
            "    AS registered, "
            "  EXISTS (SELECT 1 FROM links l WHERE l.holder_id = c.holder_id AND l.unlinked_at IS NULL) AS linked, "
            "  EXISTS (SELECT 1 FROM link_reviews r WHERE r.holder_id = c.holder_id AND r.resolved_at IS NULL) "
            "    AS in_review "
            "FROM certificates c WHERE c.serial = $1", card["serial"])
        if row is None:
            card["registration"] = "unknown card"
            continue
        state = ("linked" if row["linked"] else "needs_review" if row["in_review"] else "registered, not linked"
                 ) if row["registered"] else "not registered"
        card["registration"] = state if row["status"] == "active" else f"{state}, certificate {row['status']}"


async def _process_batches(settings: Settings) -> None:
    from service.core.database import create_pool

    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        worker = BatchWorker(pool=pool, settings=settings, sinks=batch_sinks())
        # Process until nothing is pending: another process's worker may hold a batch for a moment.
        for _ in range(1200):
            processed = await worker.run_once()
            if not processed and not await pool.fetchval(
                "SELECT count(*) FROM batches WHERE status IN ('queued', 'running')"
            ):
                return
            await asyncio.sleep(0 if processed else 0.05)
        raise RuntimeError("the demo batches did not finish within a minute")
    finally:
        await pool.close()


def describe(out: dict[str, Any], *, base_url: str) -> str:
    """The demo as a person reads it in the terminal."""
    lines = [f"Onshi demo at {base_url}  (API docs: {base_url}/docs)", "", "Facilities and terminal tokens:"]
    lines += [f"  {f['facility_code']} {f['name']} ({f['type']}): terminal token {f['token']}"
              for f in out["facilities"]]
    lines += ["", "Staff (password for all: " + PASSWORD + "):"]
    lines += [f"  {s['login']:<22} {s['role']:<11} at {s['facility_code']}" for s in out["staff"]]
    lines += ["", "Insurers:"]
    lines += [f"  {i['insurer_number']} {i['name']}: token {i['token']}" for i in out["insurers"]]
    lines += ["", f"Authority operator token: {out['operator_token']}", f"Claims processor token: {out['claims_token']}",
              "", "Virtual cards (file, PIN, registration):"]
    lines += [f"  {c['holder']:<8} {c['card']}  PIN {c['pin']}  {c.get('registration', 'not registered')}\n"
              f"           serial {c['serial']}" for c in out["cards"]]
    lines += [f"  face demo: --presence face --camera simulate:astronaut  (she follows the random prompts)\n"
              f"             --camera {c['camera']}  (a recording of her: refused as a replay)"
              for c in out["cards"] if "camera" in c]
    return "\n".join(lines)
