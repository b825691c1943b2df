"""What the browser tests share: Debian's Chromium (never a downloaded one), launched headless by Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> Path:
    """The binary; a missing one fails the test, it is never skipped."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium and fonts-noto-cjk "
                    "(python dev.py test installs them; or: apt-get install -y chromium fonts-noto-cjk)")
    return CHROMIUM


@asynccontextmanager
async def launched_chromium(chromium: Path) -> AsyncIterator[Any]:
    """Headless Chromium driven by Playwright, closed afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        await browser.close()
