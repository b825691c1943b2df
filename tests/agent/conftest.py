"""The card agent on a real socket next to the live service, Debian's Chromium shared per module, and the checks
of what a person sees (nothing wider than the screen) with screenshots in .onshi-data/screenshots/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.browser import launched_chromium, require_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".onshi-data" / "screenshots"
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5);
  }).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 30));
  return {scrollWidth: document.documentElement.scrollWidth, width, wide};
}"""
_LINES = "e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[int], FastAPI]], str]]:
    """Start an agent app (built for its port) with uvicorn in a thread; stopped after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(build: Callable[[int], FastAPI]) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(build(port), host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, name=f"agent-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the agent did not start")
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium (never a downloaded one): a missing binary fails the test, it is not skipped."""
    return require_chromium()


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    """One headless Chromium per module, driven by Playwright."""
    async with launched_chromium(chromium) as launched:
        yield launched


@pytest.fixture
async def live(live_url: str, app: FastAPI, conn: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the live service, for setting data up through the real service (after a clean state).

    A new connection per request: between two of its requests a browser test may wait longer than uvicorn keeps
    an idle connection (5 s), and a request sent as the server closes it fails ("Server disconnected without
    sending a response"), as one did on a loaded machine."""
    async with httpx.AsyncClient(base_url=live_url, timeout=30,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


async def new_page(browser: Any, *, width: int) -> Any:
    """A fresh browser profile at this width (a phone's 390 px or a desktop's 1280 px)."""
    context = await browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo",
                                        viewport={"width": width, "height": 844 if width < 640 else 900})
    return await context.new_page()


async def fits(page: Any) -> None:
    """Nothing is wider than the screen."""
    found = await page.evaluate(_OVERFLOW)
    assert found["scrollWidth"] <= found["width"] and not found["wide"], found


async def one_line(locator: Any) -> None:
    """Each element (a date, a name) on one line."""
    for index in range(await locator.count()):
        assert await locator.nth(index).evaluate(_LINES) == 1, await locator.nth(index).inner_text()


async def snap(page: Any, name: str) -> None:
    """Check the layout, then keep a full-page screenshot for a person to look at."""
    await fits(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def card_slot(directory: Path, cards: dict[str, Any]) -> Path:
    """A reader's directory of card files, named as the demo's (`<name>.card.json`)."""
    slot = directory / "reader"
    slot.mkdir(exist_ok=True)
    for name, card in cards.items():
        shutil.copy(card.path, slot / f"{name}.card.json")
    return slot
