"""A real Chromium driven by Playwright: Debian's chromium, since no browser can be downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tertulia.server.app import Server

ROOT = Path(__file__).resolve().parents[1]
# Screenshots land here (CI keeps them); TERTULIA_UPDATE_SNAPSHOTS=1 also refreshes docs/.
ARTIFACTS = Path(os.environ.get("TERTULIA_ARTIFACTS", ROOT / "build" / "artifacts"))
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT = 10_000  # milliseconds, for Playwright's waits
expect.set_options(timeout=WAIT)


def chromium_path() -> str | None:
    explicit = os.environ.get("TERTULIA_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: install it (apt-get install chromium) or set TERTULIA_CHROMIUM")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            # Containers run as root without user namespaces; the sandbox cannot start there.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()


def save_screenshot(data: bytes, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    if os.environ.get("TERTULIA_UPDATE_SNAPSHOTS") == "1":
        (ROOT / "docs" / name).write_bytes(data)
    return path


def url(server: Server) -> str:
    return "http://" + server.addresses("web")[0] + "/"


async def open_page(browser: Browser, server: Server, **context: Any) -> Page:
    """A page of its own browser context (its own cookies, permissions and init scripts)
    on the server's web door; `init_script` runs before the page's own."""
    init_script = context.pop("init_script", None)
    ctx = await browser.new_context(locale=context.pop("locale", "en-US"), **context)
    if init_script:
        await ctx.add_init_script(init_script)
    page = await ctx.new_page()
    page.set_default_timeout(WAIT)
    await page.goto(url(server))
    return page


async def log_in(page: Page, nick: str) -> None:
    await page.fill("#nick", nick)
    await page.press("#nick", "Enter")
    await expect(page.locator("#chat")).to_be_visible()
    await expect(page.locator("#state")).to_have_attribute("data-state", "connected")


def line(page: Page, text: str) -> Locator:
    return page.locator("#log .line", has_text=text)


async def say(page: Page, text: str) -> None:
    await page.fill("#input", text)
    await page.press("#input", "Enter")
