"""The viewer pages in a real browser (Debian's Chromium through Playwright), JavaScript off, against a live server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.authority.ca import CertificateAuthority
from tests.browser import launched_chromium, require_chromium
from tests.factories import (
    consented_patient,
    give_consent,
    make_named_facility,
    make_staff,
    make_terminal,
)

pytestmark = pytest.mark.browser

SHOWN_DRUGS = ["アムロジピン錠5mg", "メトホルミン塩酸塩錠250mg", "ロキソプロフェンナトリウム錠60mg"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium (never a downloaded one): a missing binary fails the test, it is not skipped."""
    return require_chromium()


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    """Headless Chromium driven by Playwright."""
    async with launched_chromium(chromium) as launched:
        yield launched


@pytest.fixture
async def live(live_url: str, app: FastAPI, conn: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the live server, for setting data up through the real service (after a clean state)."""
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as client:
        yield client


@pytest.fixture
def authority(app: FastAPI) -> CertificateAuthority:
    ca: CertificateAuthority = app.state.authority
    return ca


async def _log_in(browser: Any, live_url: str, staff: dict[str, str], console: list[str] | None = None,
                  *, width: int = 1200) -> Any:
    """A fresh browser profile (JavaScript off), logged in through the form: the page, on /viewer/."""
    context = await browser.new_context(java_script_enabled=False, locale="ja-JP",
                                        viewport={"width": width, "height": 900})
    page = await context.new_page()
    if console is not None:
        page.on("console", lambda message: console.append(message.text))
    await page.goto(f"{live_url}/viewer/")
    assert page.url == f"{live_url}/viewer/login"  # no session: the login form
    await page.get_by_label("ログインID").fill(staff["login"])
    await page.get_by_label("パスワード").fill(staff["password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.wait_for_url(f"{live_url}/viewer/")
    return page


async def _styled(page: Any) -> bool:
    """The app's stylesheet applied (CSP style-src 'self' lets it in): the header bar is the brand's blue."""
    colour = await page.locator("header.site").evaluate("e => getComputedStyle(e).backgroundColor")
    return bool(colour == "rgb(22, 62, 108)")


async def test_pharmacist_and_doctor_see_their_consented_patients_records(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection,
    authority: CertificateAuthority, tmp_path: Path,
) -> None:
    given = await consented_patient(live, conn, authority, tmp_path, facility_type="pharmacy")
    clinic = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    at_clinic = await give_consent(live, clinic, given["card"], categories=["medication", "checkup"])

    console: list[str] = []
    page = await _log_in(browser, live_url, await make_staff(conn, facility_code=given["facility_code"]), console)
    header = await page.locator("header.site").inner_text()
    assert "ひかり調剤薬局" in header and "薬剤師" in header
    row = page.get_by_role("row", name=re.compile("山田太郎"))
    assert "ヤマダ タロウ" in await row.inner_text() and "1980年4月1日" in await row.inner_text()
    await page.get_by_role("link", name="山田太郎").click()
    await page.wait_for_url(f"{live_url}/viewer/consents/{given['consent_id']}")
    assert await page.locator("table.medications td.drug").all_inner_texts() == SHOWN_DRUGS
    assert "薬局の薬剤師は特定健診情報を閲覧できません" in await page.locator("main").inner_text()
    assert await page.locator("svg").count() == 0
    await page.get_by_role("button", name="ログアウト").click()
    await page.wait_for_url(f"{live_url}/viewer/login")

    doctor = await make_staff(conn, facility_code=clinic["facility_code"], role="doctor")
    page = await _log_in(browser, live_url, doctor, console)
    await page.get_by_role("link", name="山田太郎").click()
    await page.wait_for_url(f"{live_url}/viewer/consents/{at_clinic['consent_id']}")
    assert await page.locator("table.medications td.drug").all_inner_texts() == SHOWN_DRUGS
    table = await page.locator("table.checkups").inner_text()
    assert "HbA1c" in table and "6.3" in table and "収縮期血圧" in table and "mmHg" in table
    wide = page.locator("figure.chart-wide")
    assert await wide.get_by_role("img", name=re.compile("HbA1c の推移")).is_visible()
    assert await wide.get_by_role("img", name=re.compile("血圧の推移")).is_visible()
    assert not await page.locator("figure.chart-narrow").first.is_visible()  # the phone's drawing is hidden here
    assert await wide.locator("g.series-hba1c circle.point").count() == 3
    assert await wide.locator("g.series-systolic_bp circle.point").count() == 3
    assert await _styled(page)
    assert not [text for text in console if "Content Security Policy" in text]
    shot = tmp_path / "doctor-patient-page.png"
    await page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000


async def test_reception_and_another_facility_see_no_patient(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection,
    authority: CertificateAuthority, tmp_path: Path,
) -> None:
    given = await consented_patient(live, conn, authority, tmp_path, facility_type="pharmacy")
    patient_url = f"{live_url}/viewer/consents/{given['consent_id']}"

    page = await _log_in(browser, live_url, await make_staff(conn, facility_code=given["facility_code"],
                                                             role="reception"))
    main = await page.locator("main").inner_text()
    assert "受付の方は薬剤情報・健診情報を閲覧できません" in main and "山田" not in main
    response = await page.goto(patient_url)
    assert response.status == 403 and "山田" not in await page.locator("body").inner_text()
    assert await _styled(page)

    elsewhere = await make_named_facility(conn, type_="pharmacy", name="みどり薬局")
    page = await _log_in(browser, live_url, await make_staff(conn, facility_code=elsewhere))
    main = await page.locator("main").inner_text()
    assert "現在、閲覧に同意している患者さんはいません" in main and "山田" not in main
    response = await page.goto(patient_url)
    assert response.status == 404
    body = await page.locator("body").inner_text()
    assert "患者さんが見つかりません" in body and "山田" not in body and "アムロジピン" not in body
    await page.screenshot(path=str(tmp_path / "another-facility-404.png"))


# Layout: at a phone's 390 px and at desktop width nothing is wider than the screen, names and dates stay on one
# line, the flags can be seen and the chart text is readable. Screenshots go to .onshi-data/screenshots/.
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".onshi-data" / "screenshots"
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = e => { for (let p = e.parentElement; p; p = p.parentElement) {
      if (getComputedStyle(p).overflowX === 'auto') return true; } return false; };
  const wide = [...document.querySelectorAll('body *')].filter(e => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5) && !inScroller(e);
  }).map(e => e.tagName + '.' + e.className);
  return {scrollWidth: document.documentElement.scrollWidth, width, wide};
}"""
_LINES = "e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"


async def _fits(page: Any) -> None:
    found = await page.evaluate(_OVERFLOW)
    assert found["scrollWidth"] <= found["width"] and not found["wide"], found


async def _one_line(locator: Any) -> None:
    for index in range(await locator.count()):
        assert await locator.nth(index).evaluate(_LINES) == 1, await locator.nth(index).inner_text()


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_pages_fit_the_screen_and_show_the_flags(
    browser: Any, live: httpx.AsyncClient, live_url: str, conn: asyncpg.Connection,
    authority: CertificateAuthority, tmp_path: Path, width: int,
) -> None:
    given = await consented_patient(live, conn, authority, tmp_path, facility_type="clinic")
    doctor = await make_staff(conn, facility_code=given["facility_code"], role="doctor")
    page = await _log_in(browser, live_url, doctor, width=width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await _fits(page)
    await _one_line(page.locator("table.patients time"))
    await _one_line(page.locator("table.patients th.name"))
    await page.screenshot(path=str(SCREENSHOTS / f"patients-{width}.png"), full_page=True)

    await page.get_by_role("link", name="山田太郎").click()
    await page.wait_for_url(f"{live_url}/viewer/consents/{given['consent_id']}")
    await _fits(page)
    await _one_line(page.locator("h1 .name"))
    await _one_line(page.locator("table.medications time"))
    await _one_line(page.locator("table.checkups thead time"))
    referral = page.locator("table.checkups td.flag-referral").first  # LDL 142 in the newest checkup
    await referral.scroll_into_view_if_needed()
    assert await referral.is_visible() and "142" in await referral.inner_text()
    box, screen = await referral.bounding_box(), page.viewport_size
    assert box["x"] >= 0 and box["x"] + box["width"] <= screen["width"]  # the newest column is on screen
    chart = page.locator(f"figure.chart-{'narrow' if width < 640 else 'wide'}").first
    assert await chart.is_visible()
    assert await chart.locator("line.threshold-referral").count() == 1  # HbA1c: 6.5
    label = chart.locator("text.threshold-label").first
    assert (await label.bounding_box())["height"] >= 10  # chart text readable, not ~6 px
    await page.screenshot(path=str(SCREENSHOTS / f"patient-{width}.png"), full_page=True)
