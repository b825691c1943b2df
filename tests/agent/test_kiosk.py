"""The reception kiosk in Chromium against the live service: PIN and staff checks, consent per category, 利用登録,
the paper fallback, and two patients back to back with nothing of the first left for the second."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from terminals.agent.app import kiosk_app
from terminals.agent.cli import KIOSK_RETRY
from terminals.agent.kiosk import Kiosk
from terminals.agent.reader import DemoReader
from terminals.reception import ReceptionClient, make_client
from tests.agent.conftest import card_slot, free_port, new_page, one_line, snap
from tests.factories import (
    eligibility_csv,
    eligibility_row,
    linked_card,
    make_card,
    make_insurer,
    make_named_facility,
    make_terminal,
    upload_and_wait,
)

pytestmark = pytest.mark.browser
SATO = {"name_kanji": "佐藤 花子", "name_kana": "サトウ ハナコ", "birthdate": "1992-11-23", "sex": 2,
        "address": "大阪府大阪市北区梅田3丁目1番1号"}
SATO_ROW = {"name_kanji": "佐藤花子", "name_kana": "サトウ ハナコ", "birthdate": "1992-11-23", "sex": "2",
            "address": "大阪市北区梅田3-1-1", "symbol": "77", "number": "246810", "branch": "02", "copay_ratio": "20"}
YAMADA_TRACES = ("山田", "ヤマダ", "345678", "12・345678・01")


def kiosk(url: str, token: str, cards: Path, *, facility_type: str = "clinic", reset_seconds: int = 8,
          ) -> Callable[[int], FastAPI]:
    """A kiosk agent app factory for `serve` (the port is chosen there)."""
    def build(port: int) -> FastAPI:
        client = ReceptionClient(make_client(url, token), retry=KIOSK_RETRY)
        return kiosk_app(Kiosk(client=client, reader=DemoReader(cards), facility_type=facility_type),  # type: ignore[arg-type]
                         port=port, reset_seconds=reset_seconds)
    return build


async def place(page: Any, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).click()
    await page.get_by_role("heading", name="本人確認の方法").wait_for()


async def type_pin(page: Any, pin: str) -> None:
    for digit in pin:
        await page.locator(".keypad").get_by_role("button", name=digit, exact=True).click()
    await page.get_by_role("button", name="確定").click()


async def traces(page: Any, words: tuple[str, ...]) -> list[str]:
    """Which of these words the page's DOM, its storage or its cookies still hold."""
    held = await page.evaluate("""() => document.documentElement.outerHTML + JSON.stringify(localStorage)
        + JSON.stringify(sessionStorage) + document.cookie + (typeof indexedDB)""")
    return [word for word in words if word in held]


async def test_two_patients_back_to_back_and_nothing_of_the_first_remains(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path,
    serve: Callable[..., str],
) -> None:
    insurer = await make_insurer(conn)
    yamada = await linked_card(live, conn, app.state.authority, tmp_path, insurer=insurer)
    sato = await linked_card(live, conn, app.state.authority, tmp_path, insurer=insurer,
                             row=eligibility_row(**SATO_ROW), **SATO)
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    agent = serve(kiosk(live_url, terminal["token"], card_slot(tmp_path, {"yamada": yamada, "sato": sato}),
                        reset_seconds=4))
    page = await new_page(browser, width=390)
    await page.goto(f"{agent}/kiosk/")
    await page.get_by_role("heading", name="カードを置いてください").wait_for()
    await snap(page, "kiosk-idle-390")

    await place(page, "yamada")
    await snap(page, "kiosk-method-390")
    await page.get_by_role("button", name="暗証番号").click()
    await snap(page, "kiosk-pin-390")
    await type_pin(page, "1234")
    await page.get_by_role("heading", name="同意の確認").wait_for()
    main = await page.locator("main").inner_text()
    assert "薬剤情報" in main and "特定健診" in main
    await page.locator("[data-consent='medication:yes']").click()
    await page.locator("[data-consent='checkup:no']").click()
    await snap(page, "kiosk-consent-390")
    await page.get_by_role("button", name="決定").click()
    await page.get_by_role("heading", name="受付完了").wait_for()
    staff = await page.locator(".staff-view").inner_text()
    assert "有効" in staff and "山田太郎" in staff and "12・345678・01" in staff and "3割" in staff
    assert "情報提供に同意しました: 薬剤情報" in await page.locator("main").inner_text()
    await one_line(page.locator("dl.staff dd.nowrap"))
    await snap(page, "kiosk-done-390")
    consent = await conn.fetchrow("SELECT categories, terminal_id::text FROM consents")
    assert (consent["categories"], consent["terminal_id"]) == (["medication"], terminal["terminal_id"])

    await page.get_by_role("button", name="次の方へ").click()
    await page.get_by_role("heading", name="カードを置いてください").wait_for()
    assert (await httpx.AsyncClient().get(f"{agent}/api/kiosk/state")).json() == {"visit": False}
    await place(page, "sato")
    await page.get_by_role("button", name="暗証番号").click()
    await type_pin(page, "9999")  # a wrong PIN: the card counts it and says how many are left
    assert "あと2回" in await page.get_by_role("alert").inner_text()
    await type_pin(page, "1234")
    await page.get_by_role("heading", name="同意の確認").wait_for()
    await page.locator("[data-consent='medication:no']").click()
    await page.locator("[data-consent='checkup:no']").click()
    await page.get_by_role("button", name="決定").click()
    await page.get_by_role("heading", name="受付完了").wait_for()
    staff = await page.locator(".staff-view").inner_text()
    assert "佐藤花子" in staff and "77・246810・02" in staff and "2割" in staff
    assert await traces(page, YAMADA_TRACES) == []  # the second visit's DOM and storage hold nothing of the first
    # and after the automatic reset, nothing of the second either, in the page or in the agent
    await page.get_by_role("heading", name="カードを置いてください").wait_for(timeout=15_000)
    assert await traces(page, ("佐藤", "サトウ", "246810")) == []
    assert (await httpx.AsyncClient().get(f"{agent}/api/kiosk/state")).json() == {"visit": False}


async def test_a_pharmacy_kiosk_asks_medication_only_and_a_locked_pin_falls_back_to_staff(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path,
    serve: Callable[..., str],
) -> None:
    yamada = await linked_card(live, conn, app.state.authority, tmp_path)
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="pharmacy"))
    agent = serve(kiosk(live_url, terminal["token"], card_slot(tmp_path, {"yamada": yamada}),
                        facility_type="pharmacy"))
    page = await new_page(browser, width=1280)
    await page.goto(f"{agent}/kiosk/")
    await snap(page, "kiosk-idle-1280")
    await place(page, "yamada")
    await snap(page, "kiosk-method-1280")
    await page.get_by_role("button", name="暗証番号").click()
    await snap(page, "kiosk-pin-1280")
    for remaining in (2, 1):
        await type_pin(page, "0000")
        await page.get_by_role("alert").filter(has_text=f"あと{remaining}回").wait_for()
    await type_pin(page, "0000")
    await page.get_by_role("heading", name="カードがロックされました").wait_for()
    await page.get_by_role("button", name="職員による目視確認に切り替える").click()
    await page.get_by_role("button", name="確認しました").click()
    await page.get_by_role("heading", name="同意の確認").wait_for()
    main = await page.locator("main").inner_text()
    assert "薬剤情報" in main and "特定健診" not in main  # a pharmacy asks nothing about checkups by default
    await snap(page, "kiosk-consent-1280")
    await page.locator("[data-consent='medication:yes']").click()
    await page.get_by_role("button", name="決定").click()
    await page.get_by_role("heading", name="受付完了").wait_for()
    assert "12・345678・01" in await page.locator(".staff-view").inner_text()
    await snap(page, "kiosk-done-1280")
    assert await conn.fetchval("SELECT presence_method FROM verifications") == "visual"
    await page.get_by_role("button", name="次の方へ").click()
    await place(page, "yamada")  # the PIN stays locked on the card: the kiosk offers no PIN pad
    assert await page.get_by_role("button", name="暗証番号").count() == 0
    assert "暗証番号がロックされています" in await page.locator("main").inner_text()


async def test_an_unregistered_card_registers_and_goes_on_to_consent(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path,
    serve: Callable[..., str],
) -> None:
    insurer = await make_insurer(conn)
    status = await upload_and_wait(live, insurer=insurer, body=eligibility_csv([eligibility_row()]))
    assert status["rows_accepted"] == 1
    card = await make_card(conn, app.state.authority, tmp_path)
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    agent = serve(kiosk(live_url, terminal["token"], card_slot(tmp_path, {"new-card": card})))
    page = await new_page(browser, width=390)
    await page.goto(f"{agent}/kiosk/")
    await place(page, "new-card")
    await page.get_by_role("button", name="暗証番号").click()
    await type_pin(page, "1234")
    await page.get_by_role("heading", name="利用登録").wait_for()
    await snap(page, "kiosk-register-390")
    await page.get_by_role("button", name="利用登録する").click()
    await page.get_by_role("heading", name="同意の確認").wait_for()
    await page.locator("[data-consent='medication:yes']").click()
    await page.locator("[data-consent='checkup:yes']").click()
    await page.get_by_role("button", name="決定").click()
    await page.get_by_role("heading", name="受付完了").wait_for()
    assert "山田太郎" in await page.locator(".staff-view").inner_text()
    assert await conn.fetchval("SELECT count(*) FROM links WHERE unlinked_at IS NULL") == 1
    assert await conn.fetchval("SELECT categories FROM consents") == ["medication", "checkup"]


async def test_an_unreachable_service_shows_the_paper_fallback(
    browser: Any, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path, serve: Callable[..., str],
) -> None:
    card = await make_card(conn, app.state.authority, tmp_path)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    agent = serve(kiosk(nowhere, "ont_unused", card_slot(tmp_path, {"card": card})))
    page = await new_page(browser, width=390)
    await page.goto(f"{agent}/kiosk/")
    await place(page, "card")
    await page.get_by_role("button", name="暗証番号").click()
    await type_pin(page, "1234")
    await page.get_by_role("heading", name="資格確認できませんでした").wait_for()
    main = await page.locator("main").inner_text()
    assert "サービスに接続できません" in main and "資格確認書または保険証で受付してください" in main
    await snap(page, "kiosk-unreachable-390")
