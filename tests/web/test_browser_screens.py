"""The screenshots in docs/ (web-desktop.png: English, light; web-phone.png: Spanish, dark):
one room with everything the page shows, built by real clients on a real server and
checked before it is photographed. TERTULIA_UPDATE_SNAPSHOTS=1 refreshes docs/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from browser import line, log_in, open_page, save_screenshot, say
from chatclient import JsonClient
from conftest import ServerFactory
from ircclient import irc

DESKTOP: dict[str, Any] = {"locale": "en-US", "color_scheme": "light"}
PHONE: dict[str, Any] = {
    "locale": "es-ES", "color_scheme": "dark", "viewport": {"width": 390, "height": 844},
    "is_mobile": True, "has_touch": True,
}  # fmt: skip


async def ok(client: JsonClient, **request: Any) -> dict[str, Any]:
    reply = await client.request(request)
    assert reply["type"] == "ok", reply
    return reply


ENGLISH = {
    "new": "New messages", "typing": "bo is typing…", "away": "away", "Away": "Away",
    "react": "React with 👍",
}  # fmt: skip
SPANISH = {
    "new": "Mensajes nuevos", "typing": "bo está escribiendo…", "away": "ausente",
    "Away": "Ausente", "react": "Reaccionar con 👍",
}  # fmt: skip


@pytest.mark.parametrize(
    ("screen", "name", "say_"),
    [(DESKTOP, "web-desktop.png", ENGLISH), (PHONE, "web-phone.png", SPANISH)],
    ids=["desktop", "phone"],
)
async def test_a_room_with_everything_the_page_shows(
    browser: Browser,
    make_server: ServerFactory,
    screen: dict[str, Any],
    name: str,
    say_: dict[str, str],
) -> None:
    server = await make_server()
    bo = await JsonClient.connect(server.port, "bo")
    await ok(bo, type="join", room="#jueves")
    await ok(bo, type="topic", room="#jueves", topic="Tertulia de los jueves: pan, vino y charla")
    cy = await irc(server, "cy")
    await cy.send("JOIN #jueves")
    await cy.expect(" 366 ")
    await cy.send("AWAY :en el tren")
    pia = await JsonClient.connect(server.port, "pia")
    await ok(pia, type="join", room="#jueves")
    await ok(bo, type="voice", room="#jueves", nick="pia")
    asked = await ok(bo, type="say", room="#jueves", text="¿Quién trae el pan esta semana?")
    answer = await ok(
        pia, type="say", room="#jueves", text="Yo, de la panadería de la esquina 🥖",
        reply_to=asked["msgid"],
    )  # fmt: skip
    await ok(bo, type="react", target="#jueves", msgid=answer["msgid"], emoji="🎉")
    await ok(pia, type="say", room="#jueves", text="Las fotos: https://example.org/jueves")

    page = await open_page(browser, server, **screen)
    await log_in(page, "ana")
    await say(page, "/join #jueves")
    await expect(page.locator("#topic")).to_have_text("Tertulia de los jueves: pan, vino y charla")
    kept = line(page, "Yo, de la panadería")
    await expect(kept.locator(".quote")).to_contain_text("¿Quién trae el pan esta semana?")
    await kept.hover()
    await page.get_by_role("toolbar").get_by_role("button", name=say_["react"]).click()
    await expect(kept.locator(".reaction")).to_have_text(["🎉 1", "👍 1"])
    await page.mouse.move(0, 0)
    # Away to another room while the talk goes on, then back to find where we left off.
    await say(page, "/join #lobby")
    await ok(bo, type="say", room="#jueves", text="ana: ¿traes tú el vino?")
    await ok(pia, type="tell", to="ana", text="¿vienes el jueves?")
    await expect(
        page.locator("#room-list .tab", has_text="#jueves").locator(".unread")
    ).to_have_text("1")
    await page.locator("#room-list .tab", has_text="#jueves").click()
    await expect(page.locator("#log .new-marker")).to_have_text(say_["new"])
    await say(page, "¡Claro! Tinto de la casa 🍷")
    await bo.expect_obj(type="message", text="¡Claro! Tinto de la casa 🍷")
    await expect(page.locator("#member-list li")).to_have_text(
        ["@bo", "+pia", "ana", f"cy {say_['away']}"]
    )
    await expect(page.locator("#away-toggle")).to_have_text(say_["Away"])
    await ok(bo, type="typing", target="#jueves", state="active")
    await expect(page.locator("#typing")).to_have_text(say_["typing"])
    await expect(page.locator("#room-list .tab", has_text="pia").locator(".unread")).to_have_text(
        "1"
    )
    path = save_screenshot(await page.screenshot(), name)
    assert path.stat().st_size > 10_000
    await pia.close()
    await bo.close()
    await cy.close()
