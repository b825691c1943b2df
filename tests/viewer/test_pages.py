"""The viewer's HTML pages: login with CSRF, the patient list, a patient's records and chart, errors as pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.authority.ca import CertificateAuthority
from service.core.clock import clock
from service.viewer.service import years_before
from tests.factories import (
    STAFF_PASSWORD,
    bearer,
    card_proof,
    consented_patient,
    days_ago,
    eligibility_row,
    give_consent,
    linked_card,
    make_insurer,
    make_named_facility,
    make_staff,
    make_terminal,
    medication_row,
    upload_records,
)

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
SHOWN_DRUGS = ("アムロジピン錠5mg", "メトホルミン塩酸塩錠250mg", "ロキソプロフェンナトリウム錠60mg")
Login = Callable[[dict[str, str]], Awaitable[httpx.AsyncClient]]


class _Forms(HTMLParser):
    """Every form of a page with its hidden inputs; every point (series, date, value, cx, cy) of the wide charts.

    Each chart is drawn twice, wide (desktop) and narrow (phone, shown by a media query): `narrow_points` and
    `thresholds` ((variant, kind, value)) hold the rest.
    """

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.points: list[tuple[str, str, str, float, float]] = []
        self.narrow_points: list[tuple[str, str, str, float, float]] = []
        self.thresholds: list[tuple[str, str, str]] = []
        self._series = ""
        self._variant = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"method": found.get("method", "get"), "action": found.get("action"), "inputs": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"][found.get("name")] = found.get("value", "")
        elif tag == "g" and "series" in found.get("class", "").split():
            self._series = found["class"].split()[-1].removeprefix("series-")
        elif tag == "figure" and "chart" in found.get("class", "").split():
            self._variant = found["class"].split()[-1].removeprefix("chart-")
        elif tag == "line" and "threshold" in found.get("class", "").split():
            self.thresholds.append((self._variant, found["class"].split()[-1].removeprefix("threshold-"),
                                    found["data-value"]))
        elif tag == "circle" and "data-date" in found:
            point = (self._series, found["data-date"], found["data-value"], float(found["cx"]), float(found["cy"]))
            (self.points if self._variant == "wide" else self.narrow_points).append(point)


def parsed(html: str) -> _Forms:
    """The forms and chart points of a page."""
    parser = _Forms()
    parser.feed(html)
    return parser


def login_token(html: str) -> str:
    """The hidden CSRF token of the login form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the login form has no CSRF token"
    return match.group(1)


@pytest.fixture
def authority(app: FastAPI) -> CertificateAuthority:
    ca: CertificateAuthority = app.state.authority
    return ca


def _browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")


@pytest.fixture
async def login_as(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[Login]:
    """Log a staff member in through the form, each with their own cookie jar: login_as(staff) -> client."""
    opened: list[httpx.AsyncClient] = []

    async def login(staff: dict[str, str]) -> httpx.AsyncClient:
        browser = _browser(app)
        opened.append(browser)
        token = login_token((await browser.get("/viewer/login")).text)
        response = await browser.post("/viewer/login", data={
            "login": staff["login"], "password": staff["password"], "csrf_token": token})
        assert (response.status_code, response.headers.get("location")) == (303, "/viewer/"), response.text
        return browser

    yield login
    for browser in opened:
        await browser.aclose()


async def _access_log(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch("SELECT role, category FROM access_log ORDER BY category")
    return [(r["role"], r["category"]) for r in rows]


async def test_login_form_carries_a_csrf_token_tied_to_a_pre_session_cookie(client: httpx.AsyncClient) -> None:
    page = await client.get("/viewer/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ja">' in page.text
    assert '<label for="login">ログインID</label>' in page.text
    assert '<label for="password">パスワード</label>' in page.text
    assert client.cookies.get("onshi_login_csrf")
    assert "httponly" in page.headers["set-cookie"].lower()
    assert login_token(page.text) != client.cookies.get("onshi_login_csrf")  # a signature, not a copy
    assert login_token((await client.get("/viewer/login")).text) == login_token(page.text)  # stable for the cookie


@pytest.mark.parametrize("token", [None, "", "forged", "é"])
async def test_login_without_the_right_csrf_token_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection, token: str | None
) -> None:
    staff = await make_staff(conn, facility_code=await make_named_facility(conn))
    await client.get("/viewer/login")
    form = {"login": staff["login"], "password": staff["password"]}
    response = await client.post("/viewer/login", data=form if token is None else {**form, "csrf_token": token})
    assert response.status_code == 403
    assert "もう一度ログインしてください" in response.text
    assert "onshi_session" not in client.cookies


async def test_the_token_of_another_browser_does_not_log_in(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    staff = await make_staff(conn, facility_code=await make_named_facility(conn))
    async with _browser(app) as attacker:
        token = login_token((await attacker.get("/viewer/login")).text)
    await client.get("/viewer/login")  # the victim's own pre-session cookie
    response = await client.post("/viewer/login", data={
        "login": staff["login"], "password": staff["password"], "csrf_token": token})
    assert response.status_code == 403


async def test_wrong_password_is_401_and_the_form_again(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    staff = await make_staff(conn, facility_code=await make_named_facility(conn))
    token = login_token((await client.get("/viewer/login")).text)
    for login, password in ((staff["login"], "wrong password"), ("nobody", STAFF_PASSWORD), ("x" * 101, "y")):
        response = await client.post("/viewer/login", data={"login": login, "password": password,
                                                            "csrf_token": token})
        assert response.status_code == 401
        assert "ログインIDまたはパスワードが違います" in response.text
        assert login_token(response.text)
    assert "onshi_session" not in client.cookies


async def test_login_sets_the_session_cookie_and_shows_the_consented_patient(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    staff = await make_staff(conn, facility_code=given["facility_code"])
    token = login_token((await client.get("/viewer/login")).text)
    response = await client.post("/viewer/login", data={"login": staff["login"], "password": staff["password"],
                                                        "csrf_token": token})
    assert (response.status_code, response.headers["location"]) == (303, "/viewer/")
    cookie = response.headers["set-cookie"].lower()
    assert "onshi_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    page = await client.get("/viewer/")
    assert page.status_code == 200
    for text in ("ひかり調剤薬局", "薬剤師", "山田太郎", "ヤマダ タロウ", "1980年4月1日", "薬剤情報", "特定健診情報",
                 f'href="/viewer/consents/{given["consent_id"]}"', "<caption>", '<th scope="col">氏名</th>'):
        assert text in page.text, text
    assert (await client.get("/viewer/login")).headers["location"] == "/viewer/"  # logged in already


async def test_without_a_session_every_page_redirects_to_login(client: httpx.AsyncClient) -> None:
    for method, url in (("GET", "/viewer/"), ("GET", "/viewer/consents/00000000-0000-0000-0000-000000000000"),
                        ("POST", "/viewer/logout")):
        response = await client.request(method, url)
        assert (response.status_code, response.headers["location"]) == (303, "/viewer/login"), url
    client.cookies.set("onshi_session", "not-a-session")
    assert (await client.get("/viewer/")).headers["location"] == "/viewer/login"


async def test_reception_gets_a_403_page_and_no_patient(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"], role="reception"))
    for url in ("/viewer/", f"/viewer/consents/{given['consent_id']}"):
        page = await browser.get(url)
        assert page.status_code == 403, url
        assert "受付の方は薬剤情報・健診情報を閲覧できません" in page.text
        assert "山田" not in page.text and "アムロジピン" not in page.text
        assert "ログアウト" in page.text
    assert await _access_log(conn) == []


async def test_a_pharmacist_sees_3_years_of_medication_and_why_checkups_are_not_shown(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="pharmacy")
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"]))
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    assert page.status_code == 200
    for text in (*SHOWN_DRUGS, "2錠", "28日分", "1312345678", "山田太郎", '<th scope="col">薬品名</th>',
                 f"（過去3年：{_japanese(years_before(clock.today_jst(), 3))}以降）",
                 "薬局の薬剤師は特定健診情報を閲覧できません"):
        assert text in page.text, text
    assert "四年前の錠10mg" not in page.text  # older than 3 years
    assert "<svg" not in page.text and "HbA1c" not in page.text
    assert await _access_log(conn) == [("pharmacist", "medication")]


async def test_a_doctor_sees_checkups_with_units_and_the_chart_of_their_points(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="clinic")
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"], role="doctor"))
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    assert page.status_code == 200
    for text in (*SHOWN_DRUGS, "HbA1c<span", "（%）", "収縮期血圧", "（mmHg）", "LDLコレステロール", "142", "6.3",
                 '<caption class="sr">特定健診の結果'):
        assert text in page.text, text
    assert "腹囲" not in page.text  # never measured: no row
    points = parsed(page.text).points
    dates = [days_ago(60), days_ago(425), days_ago(790)]  # the one 6 years ago is outside the 5 years
    expected = {"hba1c": ["6.3", "6.0", "5.7"], "systolic_bp": ["138", "132", "126"],
                "diastolic_bp": ["88", "84", "80"]}
    for series, values in expected.items():
        drawn = sorted((p for p in points if p[0] == series), key=lambda p: p[3])
        assert [(p[1], p[2]) for p in drawn] == list(zip(reversed(dates), reversed(values), strict=True)), series
        assert [p[4] for p in drawn] == sorted((p[4] for p in drawn), reverse=True)  # rising values drawn higher
    assert await _access_log(conn) == [("doctor", "checkup"), ("doctor", "medication")]


async def test_checkup_values_are_flagged_against_the_tokutei_kenshin_reference_values(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="clinic")
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"], role="doctor"))
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    html = page.text
    # LDL 142 >= 140 (受診勧奨), HbA1c 6.3 >= 5.6 (保健指導), systolic 126 < 130 (no flag)
    referral = r'<td class="num flag-referral">142 <span class="flag flag-referral" title="受診勧奨判定値">'
    assert re.search(referral, html)
    assert re.search(r'<td class="num flag-guidance">6.3 <span class="flag flag-guidance"', html)
    assert '<td class="num">126</td>' in html
    assert "120以上 / 140以上" in html and "5.6以上 / 6.5以上" in html and "130以上 / 140以上" in html
    lines = parsed(html).thresholds
    assert ("wide", "guidance", "5.6") in lines and ("wide", "referral", "6.5") in lines
    assert {value for variant, _, value in lines if variant == "narrow"} == {"5.6", "6.5", "130", "140", "85", "90"}
    assert len(parsed(html).narrow_points) == len(parsed(html).points) == 9
    assert "標準的な健診・保健指導プログラム（令和6年度版）" in html
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d JST</time>まで", html)  # the consent's end, labelled


async def test_kana_is_full_width_katakana_and_facilities_are_named(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    insurer = await make_insurer(conn)
    card = await linked_card(client, conn, authority, tmp_path, insurer=insurer,
                             row=eligibility_row(name_kana="ﾔﾏﾀﾞ ﾀﾛｳ"))
    pharmacy = await make_named_facility(conn, type_="pharmacy", name="みどり薬局")
    number = insurer["insurer_number"]
    await upload_records(client, conn, insurer=insurer, checkups=[], medications=[
        medication_row(insurer_number=number, dispensed_on=days_ago(20), days="28"),
        medication_row(insurer_number=number, dispensed_on=days_ago(10), drug_code="2149039F2026",
                       drug_name="アムロジピンOD錠2.5mg", days="14", facility_code=pharmacy),
    ])
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    consent = await give_consent(client, terminal, card, categories=["medication"])
    browser = await login_as(await make_staff(conn, facility_code=terminal["facility_code"], role="doctor"))
    listing = (await browser.get("/viewer/")).text
    assert "ヤマダ タロウ" in listing and "ﾔﾏﾀﾞ" not in listing
    page = (await browser.get(f"/viewer/consents/{consent['consent_id']}")).text
    assert '<span class="kana">ヤマダ タロウ</span>' in page
    assert "みどり薬局" in page and "医療機関コード 1312345678" in page  # an unregistered facility: its code
    assert "重複投薬の可能性" in page
    assert page.count('<tr class="duplicate">') == 2
    assert "同一成分（YJ 2149039）をみどり薬局でも調剤" in page


@pytest.fixture
def pharmacy_checkups(app: FastAPI) -> Iterator[None]:
    """ONSHI_CHECKUP_AT_PHARMACIES=true for one test (the app reads its settings from app.state)."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"checkup_at_pharmacies": True})
    yield
    app.state.settings = original


async def test_pharmacies_see_checkups_when_the_setting_allows_it(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login, pharmacy_checkups: None,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="pharmacy")
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"]))
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    assert page.status_code == 200
    assert '<caption class="sr">特定健診の結果' in page.text and len(parsed(page.text).points) == 9
    assert await _access_log(conn) == [("pharmacist", "checkup"), ("pharmacist", "medication")]


def _japanese(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


async def test_a_category_not_consented_is_explained(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="clinic",
                                    categories=["medication"])
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"], role="doctor"))
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    assert page.status_code == 200
    assert "患者さんは特定健診情報の閲覧に同意していません" in page.text
    assert "アムロジピン錠5mg" in page.text and "<svg" not in page.text
    assert await _access_log(conn) == [("doctor", "medication")]


async def test_another_facilitys_pharmacist_gets_404(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    browser = await login_as(await make_staff(conn, facility_code=await make_named_facility(conn)))
    assert "山田" not in (await browser.get("/viewer/")).text
    for consent_id in (given["consent_id"], "not-a-uuid"):
        page = await browser.get(f"/viewer/consents/{consent_id}")
        assert page.status_code == 404
        assert "患者さんが見つかりません" in page.text and "山田" not in page.text
    assert await _access_log(conn) == []


async def test_an_expired_consent_says_the_consent_ended(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"]))
    url = f"/viewer/consents/{given['consent_id']}"
    assert (await browser.get(url)).status_code == 200
    clock.offset = timedelta(hours=24, seconds=1)
    page = await browser.get(url)
    assert page.status_code == 410
    assert "同意は終了しました" in page.text and "アムロジピン" not in page.text
    assert "山田" not in (await browser.get("/viewer/")).text


async def test_a_withdrawn_consent_says_the_consent_ended(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"]))
    proof = await card_proof(client, given["terminal"], given["card"], purpose="withdraw_consent")
    withdrawn = await client.post(f"/v1/consents/{given['consent_id']}/withdraw", json=proof,
                                  headers=bearer(given["terminal"]["token"]))
    assert withdrawn.status_code == 200, withdrawn.text
    page = await browser.get(f"/viewer/consents/{given['consent_id']}")
    assert (page.status_code, "同意は終了しました" in page.text) == (410, True)


async def test_logout_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, conn: asyncpg.Connection, login_as: Login
) -> None:
    browser = await login_as(await make_staff(conn, facility_code=await make_named_facility(conn)))
    home = await browser.get("/viewer/")
    form = next(f for f in parsed(home.text).forms if f["action"] == "/viewer/logout")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": "é"}):
        refused = await browser.post("/viewer/logout", data=data)
        assert refused.status_code == 403, data
    assert (await browser.get("/viewer/")).status_code == 200  # still logged in
    cookie = browser.cookies.get("onshi_session")
    done = await browser.post("/viewer/logout", data={"csrf_token": form["inputs"]["csrf_token"]})
    assert (done.status_code, done.headers["location"]) == (303, "/viewer/login")
    assert "onshi_session" not in browser.cookies
    browser.cookies.set("onshi_session", cookie or "")  # the old cookie, replayed
    assert (await browser.get("/viewer/")).headers["location"] == "/viewer/login"


async def test_every_post_form_carries_a_csrf_token(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path, facility_type="clinic")
    forms = parsed((await client.get("/viewer/login")).text).forms
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"], role="doctor"))
    for url in ("/viewer/", f"/viewer/consents/{given['consent_id']}"):
        forms += parsed((await browser.get(url)).text).forms
    assert {f["action"] for f in forms} == {"/viewer/login", "/viewer/logout"}
    assert all(f["method"] == "post" and f["inputs"].get("csrf_token") for f in forms)


async def test_security_headers_on_every_page(
    client: httpx.AsyncClient, conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path,
    login_as: Login,
) -> None:
    given = await consented_patient(client, conn, authority, tmp_path)
    responses = [await client.get("/viewer/login"), await client.get("/viewer/"),
                 await client.post("/viewer/login", data={"login": "x", "password": "y"})]
    browser = await login_as(await make_staff(conn, facility_code=given["facility_code"]))
    responses += [await browser.get("/viewer/"), await browser.get(f"/viewer/consents/{given['consent_id']}"),
                  await browser.get("/viewer/consents/not-a-uuid"), await browser.post("/viewer/logout")]
    assert [r.status_code for r in responses] == [200, 303, 403, 200, 200, 404, 403]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)
    for response in responses:
        if response.headers.get("content-type", "").startswith("text/html"):
            assert "style=" not in response.text and "<script" not in response.text  # nothing CSP would block


async def test_the_stylesheet_is_served_by_the_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/static/viewer.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert ".chart-svg" in response.text
    assert 'href="/viewer/static/viewer.css"' in (await client.get("/viewer/login")).text
