"""API docs offline: Swagger UI and ReDoc from the package, security schemes and examples, and the home page."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest

from service.apidocs.routes import _REDOC
from tests.viewer.test_browser import SCREENSHOTS, browser, chromium  # noqa: F401 -- fixtures

REDOC_SHA256 = re.search(r"sha256 `([0-9a-f]{64})`", (_REDOC / "README.md").read_text())


async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert urls and all(u.startswith("/") for u in urls), (page, urls)
        for url in urls:
            assert (await client.get(url)).status_code == 200, url
    assert (await client.get("/docs/assets/index.html")).status_code == 404  # only what the page loads


def test_the_vendored_redoc_is_the_documented_file() -> None:
    assert REDOC_SHA256 is not None
    assert hashlib.sha256((_REDOC / "redoc.standalone.js").read_bytes()).hexdigest() == REDOC_SHA256.group(1)
    assert "MIT" in (_REDOC / "LICENSE-redoc").read_text()


async def test_openapi_has_security_schemes_and_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {
        "TerminalToken", "InsurerToken", "OperatorToken", "ClaimsToken", "StaffSession", "CsrfToken",
        "PortalSession"}
    paths = spec["paths"]
    assert paths["/v1/verifications"]["post"]["security"] == [{"TerminalToken": []}]
    assert paths["/v1/insurers/{insurer_number}/eligibility-batches"]["post"]["security"] == [{"InsurerToken": []}]
    assert paths["/v1/claims/medication-batches"]["post"]["security"] == [{"ClaimsToken": []}]
    assert paths["/v1/authority/renewals"]["post"]["security"] == [{"OperatorToken": []}]
    assert paths["/v1/viewer/consents"]["get"]["security"] == [{"StaffSession": []}]
    assert paths["/v1/staff/logout"]["post"]["security"] == [{"StaffSession": [], "CsrfToken": []}]
    assert paths["/v1/staff/login"]["post"]["security"] == []
    assert paths["/v1/portal/sessions"]["post"]["security"] == []
    assert paths["/v1/portal/sessions"]["delete"]["security"] == [{"PortalSession": []}]
    assert paths["/v1/portal/consents"]["get"]["security"] == [{"PortalSession": []}]
    body = paths["/v1/verifications"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"]["presence"] == {"method": "pin"}


async def test_home_page_links_docs_viewer_and_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for link in ("/docs", "/redoc", "/viewer/", "/healthz", "/fhir/R4/metadata"):
        assert f'href="{link}"' in response.text


@pytest.mark.browser
async def test_swagger_ui_renders_offline_and_authorizes(browser: Any, live_url: str, clean: None) -> None:  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    outside: list[str] = []

    async def only_local(route: Any) -> None:
        if route.request.url.startswith(live_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_local)
    await page.goto(f"{live_url}/docs")
    await page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
    assert "Onshi" in await page.locator(".swagger-ui .info .title").inner_text()
    await page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".dialog-ux")
    await dialog.wait_for()
    assert "TerminalToken" in await dialog.inner_text() and "X-CSRF-Token" in await dialog.inner_text()
    assert outside == []
    await page.screenshot(path=str(SCREENSHOTS / "docs.png"))
    await context.close()
