"""The browser client over HTTPS and WSS in a real Chromium that trusts the test certificate.

Chromium on Linux reads its trust store from an NSS database, which a test should not
touch; it is told instead to accept this one certificate's public key with
--ignore-certificate-errors-spki-list (the SHA-256 of its SubjectPublicKeyInfo), which
still refuses every other certificate, unlike --ignore-certificate-errors. The last test
shows the same page refused by a Chromium without that flag.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from playwright.async_api import Browser, Error, async_playwright, expect

from browser import chromium_path
from chatclient import LineClient
from conftest import ServerFactory
from tertulia.server.app import Server
from tlscerts import spki_hash, write_cert

WAIT = 10_000  # milliseconds, for Playwright's waits
expect.set_options(timeout=WAIT)


@pytest.fixture
async def https_server(make_server: ServerFactory, tmp_path: Path) -> Server:
    chain, key = write_cert(trustme.CA(), tmp_path)
    server: Server = await make_server(
        tls_cert=str(chain), tls_key=str(key), plain_tls_port=0, irc_tls_port=0, web_tls_port=0
    )
    return server


@pytest.fixture
async def trusting_browser(tmp_path: Path, https_server: Server) -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: install it (apt-get install chromium) or set TERTULIA_CHROMIUM")
    spki = spki_hash(tmp_path / "chain.pem")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--ignore-certificate-errors-spki-list={spki}",
            ],
        )  # fmt: skip
        try:
            yield launched
        finally:
            await launched.close()


def https_url(server: Server) -> str:
    return "https://" + server.addresses("web-tls")[0] + "/"


async def test_the_page_over_https_chats_over_wss_with_a_plain_client(
    trusting_browser: Browser, https_server: Server
) -> None:
    context = await trusting_browser.new_context(locale="en-US")  # HTTPS errors not ignored
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    response = await page.goto(https_url(https_server))
    assert response is not None and response.ok
    assert await page.evaluate("window.isSecureContext") is True
    await page.fill("#nick", "segura")
    await page.press("#nick", "Enter")
    await expect(page.locator("#state")).to_have_text("connected")
    port = https_server.addresses("web-tls")[0].rsplit(":", 1)[1]
    assert sockets == [f"wss://127.0.0.1:{port}/ws"]

    plain = await LineClient.connect(https_server.port, "claro")
    await page.fill("#input", "hola desde https")
    await page.press("#input", "Enter")
    await plain.expect("[segura] hola desde https")
    await plain.send("hola desde netcat")
    await expect(page.locator("#log .line", has_text="<claro> hola desde netcat")).to_be_visible()
    await plain.close()
    await context.close()


async def test_a_browser_that_does_not_trust_the_certificate_refuses_the_page(
    browser: Browser, https_server: Server
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    with pytest.raises(Error, match=re.compile("ERR_CERT_AUTHORITY_INVALID")):
        await page.goto(https_url(https_server), timeout=WAIT)
    await context.close()
