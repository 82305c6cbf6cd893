"""A room as the page shows it: members with operator, voice and away marks kept current,
a member's name opening a private conversation, your own away state, and a topic bar you
can edit. A real Chromium against a real server on port 0."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from browser import line, log_in, open_page, say
from chatclient import JsonClient, LineClient
from ircclient import irc
from tertulia.server.app import Server


async def test_member_marks_follow_modes_away_nicks_and_departures(
    browser: Browser, server: Server
) -> None:
    bo = await JsonClient.connect(server.port, "bo")
    assert (await bo.request({"type": "join", "room": "#club"}))["type"] == "ok"
    cy = await irc(server, "cy")
    await cy.send("AWAY :comiendo")
    await cy.send("JOIN #club")
    await cy.expect(" 366 ")
    page = await open_page(browser, server)
    await log_in(page, "ana")
    await say(page, "/join #club")
    members = page.locator("#member-list li")
    # The join reply's lists: bo made the room and runs it, cy is away.
    await expect(members).to_have_text(["@bo", "ana", "cy away"])
    await expect(page.locator("#member-list li.away")).to_have_text(["cy away"])
    await expect(page.get_by_role("button", name="bo, operator")).to_be_visible()

    assert (await bo.request({"type": "voice", "room": "#club", "nick": "ana"}))["type"] == "ok"
    await expect(members).to_have_text(["@bo", "+ana", "cy away"])
    assert (await bo.request({"type": "op", "room": "#club", "nick": "ana"}))["type"] == "ok"
    await expect(members).to_have_text(["@ana", "@bo", "cy away"])
    assert (await bo.request({"type": "deop", "room": "#club", "nick": "ana"}))["type"] == "ok"
    await expect(members).to_have_text(["@bo", "+ana", "cy away"])
    await cy.send("AWAY")
    await expect(members).to_have_text(["@bo", "+ana", "cy"])
    await expect(line(page, "cy is back")).to_be_visible()
    await cy.send("AWAY :siesta")
    await expect(members).to_have_text(["@bo", "+ana", "cy away"])
    await expect(page.get_by_role("button", name="cy away")).to_have_attribute(
        "title", "siesta · Open a private conversation with cy"
    )
    await cy.send("NICK cyd")
    await expect(members).to_have_text(["@bo", "+ana", "cyd away"])
    await bo.send_obj({"type": "nick", "nick": "boss"})
    await expect(members).to_have_text(["@boss", "+ana", "cyd away"])
    assert (await bo.request({"type": "kick", "room": "#club", "nick": "cyd"}))["type"] == "ok"
    await expect(members).to_have_text(["@boss", "+ana"])
    await bo.send_obj({"type": "part", "room": "#club"})
    await expect(members).to_have_text(["+ana"])


async def test_clicking_a_member_opens_a_private_conversation(
    browser: Browser, server: Server
) -> None:
    page = await open_page(browser, server)
    await log_in(page, "ana")
    pia = await LineClient.connect(server.port, "pia")
    await expect(page.locator("#member-list li")).to_have_text(["ana", "pia"])
    # Your own name is not a button: there is nobody to talk to.
    await expect(page.locator("#member-list button")).to_have_count(1)
    await page.get_by_role("button", name="pia").click()
    await expect(page.locator("#title")).to_have_text("private with pia")
    await expect(page.locator("#room-list .tab[aria-current=true]")).to_have_text("pia")
    await expect(page.locator("#input")).to_be_focused()
    await page.keyboard.type("¿un café?")
    await page.keyboard.press("Enter")
    await pia.expect("[ana -> pia] ¿un café?")
    await expect(line(page, "<ana> ¿un café?")).to_be_visible()


async def test_away_from_the_page_and_back(browser: Browser, server: Server) -> None:
    page = await open_page(browser, server, locale="es-ES")
    await log_in(page, "ana")
    other = await open_page(browser, server)
    await log_in(other, "bea")
    away = page.locator("#away-toggle")
    await expect(away).to_have_attribute("aria-pressed", "false")
    await say(page, "/away comiendo")
    await expect(away).to_have_attribute("aria-pressed", "true")
    await expect(away).to_have_text("Ausente: comiendo")
    await expect(line(page, "Estás ausente: comiendo")).to_be_visible()
    await expect(line(other, "ana is away: comiendo")).to_be_visible()
    await expect(other.locator("#member-list li.away")).to_have_text(["ana away"])
    await expect(page.locator("#member-list li.away")).to_have_text(["ana ausente"])
    await away.click()  # back
    await expect(away).to_have_attribute("aria-pressed", "false")
    await expect(line(other, "ana is back")).to_be_visible()
    await expect(other.locator("#member-list li.away")).to_have_count(0)
    await away.click()  # away, without saying why
    await expect(away).to_have_text("Ausente: ausente")
    await expect(other.locator("#member-list li.away")).to_have_text(["ana away"])
    await say(page, "/away")  # a bare /away comes back
    await expect(away).to_have_attribute("aria-pressed", "false")
    await expect(other.locator("#member-list li.away")).to_have_count(0)


async def test_the_topic_bar_edits_the_topic_and_shows_a_refusal(
    browser: Browser, server: Server
) -> None:
    page = await open_page(browser, server)
    await log_in(page, "ana")
    pia = await LineClient.connect(server.port, "pia")
    topic = page.locator("#topic")
    await expect(topic).to_have_text("Set a topic")
    await expect(page.get_by_role("button", name="Topic: Set a topic. Change it")).to_be_visible()
    await topic.click()
    field = page.get_by_role("textbox", name="Topic of #lobby")
    await expect(field).to_be_focused()
    await field.fill("bienvenidos a la tertulia")
    await field.press("Enter")
    await pia.expect("ana set the topic of #lobby: bienvenidos a la tertulia")
    await expect(topic).to_have_text("bienvenidos a la tertulia")
    await expect(topic).to_be_focused()
    # Escape leaves the topic as it was.
    await topic.press("Enter")
    await field.fill("otra cosa")
    await field.press("Escape")
    await expect(topic).to_have_text("bienvenidos a la tertulia")
    await expect(field).to_be_hidden()

    # In a room whose topic only operators may set (+t), the server's refusal is shown.
    bo = await JsonClient.connect(server.port, "bo")
    assert (await bo.request({"type": "join", "room": "#club"}))["type"] == "ok"
    reply = await bo.request({"type": "mode", "room": "#club", "modes": "+t"})
    assert reply["type"] == "ok", reply
    await say(page, "/join #club")
    await expect(page.locator("#title")).to_have_text("#club")
    await topic.click()
    field = page.get_by_role("textbox", name="Topic of #club")
    await field.fill("mío")
    await field.press("Enter")
    await expect(line(page, "you are not an operator of #club")).to_be_visible()
    await expect(topic).to_have_text("Set a topic")
    # bo's topic reaches the bar as it is set.
    await bo.request({"type": "topic", "room": "#club", "topic": "solo operadores"})
    await expect(topic).to_have_text("solo operadores")
