"""A real Chromium driven by Playwright: Debian's chromium, since no browser can be downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parents[1]
# Screenshots land here (CI keeps them); TERTULIA_UPDATE_SNAPSHOTS=1 also refreshes docs/.
ARTIFACTS = Path(os.environ.get("TERTULIA_ARTIFACTS", ROOT / "build" / "artifacts"))
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


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
