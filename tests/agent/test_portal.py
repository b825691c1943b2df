"""The holder portal in Chromium against the live service: sign in with the card through the agent, read one's own
records and who viewed them, withdraw a consent; suspended cards refused, expired ones see the access log only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from terminals.agent.app import portal_app
from terminals.agent.portal import Portal
from tests.agent.conftest import new_page, one_line, snap
from tests.factories import consented_patient, make_card, make_staff

pytestmark = pytest.mark.browser


def portal(url: str, card: Path) -> Callable[[int], FastAPI]:
    """A portal agent app factory for `serve`."""
    return lambda port: portal_app(Portal(http=httpx.Client(base_url=url, timeout=10), card_path=card), port=port)


async def sign_in(page: Any, pin: str) -> None:
    await page.get_by_label("暗証番号 (4桁)").fill(pin)
    await page.get_by_role("button", name="ログイン").click()


@pytest.mark.parametrize("width", [390, 1280])
async def test_a_holder_reads_their_data_and_withdraws_a_consent(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path,
    serve: Callable[..., str], width: int,
) -> None:
    patient = await consented_patient(live, conn, app.state.authority, tmp_path, facility_type="clinic")
    doctor = await make_staff(conn, facility_code=patient["facility_code"], role="doctor")
    assert (await live.post("/v1/staff/login", json={"login": doctor["login"], "password": doctor["password"]})
            ).status_code == 200
    assert (await live.get(f"/v1/viewer/consents/{patient['consent_id']}/checkups")).status_code == 200
    agent = serve(portal(live_url, patient["card"].path))
    page = await new_page(browser, width=width)
    await page.goto(f"{agent}/portal/")
    await page.get_by_role("heading", name="マイナンバーカードでログイン").wait_for()
    await sign_in(page, "0000")
    assert "あと2回" in await page.get_by_role("alert").inner_text()
    await snap(page, f"portal-sign-in-{width}")
    await sign_in(page, "1234")
    await page.get_by_role("heading", name="資格情報").wait_for()

    eligibility = await page.locator("#eligibility").inner_text()
    assert "有効" in eligibility and "テスト健保" in eligibility
    assert "12・345678・01" in eligibility and "3割" in eligibility
    medications = await page.locator("#medications").inner_text()
    assert "アムロジピン錠5mg" in medications and "四年前の錠10mg" not in medications
    checkups = page.locator("#checkups")
    assert "6.3" in await checkups.inner_text()
    assert await checkups.get_by_role("img", name="HbA1cの推移").is_visible()
    assert await checkups.locator("g.series-hba1c circle.point").count() == 3
    label = checkups.locator("svg.chart text").first
    assert (await label.bounding_box())["height"] >= 10  # chart text readable on a phone too
    log = await page.locator("#access-log").inner_text()
    assert "やまだ内科クリニック" in log and "医師" in log and "特定健診" in log
    await one_line(page.locator("#access-log time"))
    await one_line(page.locator("#medications .drug-name"))
    # the page holds no token: nothing in storage, cookies or the DOM that the service would accept
    held = await page.evaluate("() => document.documentElement.outerHTML + JSON.stringify(localStorage) + "
                               "JSON.stringify(sessionStorage) + document.cookie")
    assert "onh_" not in held
    await snap(page, f"portal-dashboard-{width}")

    consents = page.locator("#consents")
    assert "有効" in await consents.inner_text()
    await consents.get_by_role("button", name="撤回する").click()
    await page.locator("#consents .badge.withdrawn").wait_for()
    assert await page.locator("#consents").get_by_role("button", name="撤回する").count() == 0
    assert await conn.fetchval("SELECT withdrawn_at IS NOT NULL FROM consents") is True
    assert (await live.get(f"/v1/viewer/consents/{patient['consent_id']}/checkups")).status_code == 410
    await page.get_by_role("button", name="ログアウト").click()
    await page.get_by_role("heading", name="マイナンバーカードでログイン").wait_for()
    assert (await httpx.AsyncClient().get(f"{agent}/api/portal/session")).json()["signed_in"] is False


async def test_suspended_cards_cannot_sign_in_and_expired_ones_read_the_access_log_only(
    browser: Any, conn: asyncpg.Connection, app: FastAPI, live_url: str, tmp_path: Path, serve: Callable[..., str],
) -> None:
    suspended = await make_card(conn, app.state.authority, tmp_path)
    await conn.execute("UPDATE certificates SET status = 'suspended' WHERE serial = $1", suspended.serial)
    page = await new_page(browser, width=390)
    await page.goto(f"{serve(portal(live_url, suspended.path))}/portal/")
    await sign_in(page, "1234")
    assert "suspended" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_role("heading", name="資格情報").count() == 0

    expired = await make_card(conn, app.state.authority, tmp_path)
    await conn.execute("UPDATE certificates SET not_after = now() - interval '10 days' WHERE serial = $1",
                       expired.serial)
    await page.goto(f"{serve(portal(live_url, expired.path))}/portal/")
    await sign_in(page, "1234")
    await page.get_by_role("heading", name="あなたの情報の閲覧記録").wait_for()
    main = await page.locator("main").inner_text()
    assert "閲覧記録だけを表示しています" in main and "閲覧記録はありません" in main
    assert await page.get_by_role("heading", name="薬剤情報 (過去3年)").count() == 0
    await snap(page, "portal-expired-390")
