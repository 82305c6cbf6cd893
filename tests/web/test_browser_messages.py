"""Doing things to messages from the page: replying, reacting, deleting your own, and
typing notices, through the JSON protocol's IRCv3-tag requests (docs/protocol.md). Two
pages in a real Chromium against a real server on port 0."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Dialog, Locator, Page, expect

from browser import line, log_in, open_page, say
from chatclient import LineClient
from ircclient import cap_requested
from tertulia.server.app import Server


async def ana_and_bea(browser: Browser, server: Server) -> tuple[Page, Page]:
    """Two pages logged in, as ana and bea."""
    ana = await open_page(browser, server)
    await log_in(ana, "ana")
    bea = await open_page(browser, server)
    await log_in(bea, "bea")
    return ana, bea


def toolbar(page: Page) -> Locator:
    return page.get_by_role("toolbar", name="Message actions")


async def test_a_reply_and_reactions_made_in_the_page_show_in_another(
    browser: Browser, server: Server
) -> None:
    ana, bea = await ana_and_bea(browser, server)
    pia = await LineClient.connect(server.port, "pia")
    irc = await cap_requested(server, "irc", "message-tags")
    await irc.send("CAP END\r\nJOIN #lobby")
    await irc.expect(" 366 ")
    await say(ana, "¿quién trae el pan?")
    question = line(bea, "<ana> ¿quién trae el pan?")
    await expect(question).to_be_visible()
    asked = await irc.expect("PRIVMSG #lobby :¿quién trae el pan?")
    msgid = re.search(r"msgid=(\d+)", asked)
    assert msgid is not None, asked

    # bea replies with the mouse: the toolbar's Reply, then the line.
    await question.hover()
    await toolbar(bea).get_by_role("button", name="Reply").click()
    await expect(bea.locator("#reply-bar")).to_have_text(
        re.compile(r"Replying to ana:\s+¿quién trae el pan\?")
    )
    await expect(bea.locator("#input")).to_be_focused()
    await bea.keyboard.type("yo, y el vino")
    await bea.keyboard.press("Enter")
    await expect(bea.locator("#reply-bar")).to_be_hidden()
    answer = line(ana, "<bea> yo, y el vino")
    await expect(answer.locator(".quote")).to_have_text("↪ ana ¿quién trae el pan?")
    await expect(
        answer.get_by_role("button", name="In reply to ana: ¿quién trae el pan?")
    ).to_be_visible()
    await expect(line(bea, "<bea> yo, y el vino").locator(".quote")).to_have_text(
        "↪ ana ¿quién trae el pan?"
    )
    await pia.expect("[bea] ↪ ana: «¿quién trae el pan?» yo, y el vino")
    # An IRC client that asked for message-tags gets the reply as IRCv3's tag.
    replied = await irc.expect("PRIVMSG #lobby :yo, y el vino")
    assert f"+draft/reply={msgid[1]}" in replied, replied
    # The quote takes you to what it answers.
    await answer.locator(".quote").click()
    await expect(line(ana, "<ana> ¿quién trae el pan?")).to_be_focused()

    # ana reacts from the keyboard: ↓/↑ pick a message in the log, Tab reaches its toolbar.
    await ana.locator("#log").focus()
    await ana.keyboard.press("ArrowUp")
    await expect(answer).to_be_focused()
    await ana.keyboard.press("Tab")  # the quote
    await ana.keyboard.press("Tab")  # Reply
    await ana.keyboard.press("Tab")
    thumbs = toolbar(ana).get_by_role("button", name="React with 👍")
    await expect(thumbs).to_be_focused()
    await ana.keyboard.press("ArrowRight")
    await expect(toolbar(ana).get_by_role("button", name="React with ❤️")).to_be_focused()
    await ana.keyboard.press("ArrowLeft")
    await expect(thumbs).to_be_focused()
    await ana.keyboard.press("Enter")
    reaction = line(bea, "<bea> yo, y el vino").locator(".reaction")
    await expect(reaction).to_have_text("👍 1")
    await expect(reaction).to_have_attribute("aria-label", "👍 1: ana")
    await expect(reaction).to_have_attribute("aria-pressed", "false")
    await pia.expect("* ana reacted 👍 to bea")
    reacted = await irc.expect("+draft/react=👍")  # typing notices come as TAGMSGs too
    assert reacted.endswith(" TAGMSG #lobby") and "+draft/reply=" in reacted, reacted
    # bea adds hers by pressing the reaction, and both pages count two.
    await reaction.click()
    await expect(reaction).to_have_text("👍 2")
    await expect(reaction).to_have_attribute("aria-pressed", "true")
    await expect(line(ana, "<bea> yo, y el vino").locator(".reaction")).to_have_text("👍 2")
    # A heart from the mouse on the question.
    await line(ana, "<ana> ¿quién trae el pan?").hover()
    await toolbar(ana).get_by_role("button", name="React with ❤️").click()
    await expect(question.locator(".reaction")).to_have_text("❤️ 1")

    # A newcomer sees the reply and the reactions in the room's history.
    eva = await open_page(browser, server)
    await log_in(eva, "eva")
    kept = eva.locator("#log .line.history", has_text="<bea> yo, y el vino")
    await expect(kept.locator(".quote")).to_have_text("↪ ana ¿quién trae el pan?")
    await expect(kept.locator(".reaction")).to_have_text("👍 2")
    await expect(kept.locator(".reaction")).to_have_attribute("aria-label", "👍 2: ana, bea")
    first = eva.locator("#log .line.history", has_text="<ana> ¿quién trae el pan?")
    await expect(first.locator(".reaction")).to_have_text("❤️ 1")


async def test_a_reply_in_a_private_conversation(browser: Browser, server: Server) -> None:
    ana, bea = await ana_and_bea(browser, server)
    await say(ana, "/msg bea ¿vienes?")
    await bea.locator("#room-list .tab", has_text="ana").click()
    asked = line(bea, "<ana> ¿vienes?")
    await asked.hover()
    await toolbar(bea).get_by_role("button", name="React with 🎉").click()
    # No deleting in a private conversation: the protocol takes back room messages only.
    await expect(toolbar(bea).get_by_role("button", name="Delete")).to_be_hidden()
    await toolbar(bea).get_by_role("button", name="Reply").click()
    await say(bea, "sí")
    await ana.locator("#room-list .tab", has_text="bea").click()
    await expect(line(ana, "<ana> ¿vienes?").locator(".reaction")).to_have_text("🎉 1")
    await expect(line(ana, "<bea> sí").locator(".quote")).to_have_text("↪ ana ¿vienes?")


async def test_deleting_your_message_removes_it_for_everyone_and_from_history(
    browser: Browser, server: Server
) -> None:
    ana, bea = await ana_and_bea(browser, server)
    await say(ana, "se queda")
    await say(ana, "me equivoqué")
    await say(bea, "lo he visto")
    await expect(line(bea, "<ana> me equivoqué")).to_be_visible()
    await expect(line(ana, "<bea> lo he visto")).to_be_visible()
    # Only your own messages offer Delete (bea runs nothing in #lobby).
    await line(bea, "<ana> me equivoqué").hover()
    await expect(toolbar(bea).get_by_role("button", name="Reply")).to_be_visible()
    await expect(toolbar(bea).get_by_role("button", name="Delete")).to_be_hidden()
    await line(ana, "<bea> lo he visto").hover()
    await expect(toolbar(ana).get_by_role("button", name="Delete")).to_be_hidden()

    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    ana.on("dialog", accept)
    await line(ana, "<ana> me equivoqué").hover()
    await toolbar(ana).get_by_role("button", name="Delete").click()
    await expect(line(ana, "me equivoqué")).to_have_count(0)
    await expect(line(bea, "me equivoqué")).to_have_count(0)
    assert asked == ["Delete this message for everyone?"]
    await expect(line(bea, "<ana> se queda")).to_be_visible()
    # Gone from history: a reload (as someone new) replays the others but not it.
    await bea.reload()
    await log_in(bea, "bea2")
    await expect(bea.locator("#log .line.history", has_text="<bea> lo he visto")).to_be_visible()
    await expect(bea.locator("#log .line.history", has_text="<ana> se queda")).to_be_visible()
    await expect(line(bea, "me equivoqué")).to_have_count(0)
    await bea.get_by_role("searchbox", name="Search this room").fill("equivoqué")
    await bea.press("#search", "Enter")
    await expect(line(bea, "Nothing found for “equivoqué” in #lobby")).to_be_visible()


async def test_someone_typing_shows_in_the_other_page(browser: Browser, server: Server) -> None:
    ana = await open_page(browser, server)
    await log_in(ana, "ana")
    bea = await open_page(browser, server, locale="es-ES")
    await log_in(bea, "bea")
    typing = bea.locator("#typing")
    await expect(typing).to_be_empty()
    await ana.locator("#input").press_sequentially("hola b")
    await expect(typing).to_have_text("ana está escribiendo…")
    await ana.keyboard.press("Enter")  # sent: done
    await expect(typing).to_be_empty()
    await expect(line(bea, "<ana> hola b")).to_be_visible()
    await ana.locator("#input").press_sequentially("otra")
    await expect(typing).to_have_text("ana está escribiendo…")
    await ana.fill("#input", "")
    await ana.locator("#input").dispatch_event("input")  # cleared: done
    await expect(typing).to_be_empty()
    # A command is not typing for others to see.
    await ana.locator("#input").press_sequentially("/who")
    await expect(ana.locator("#input")).to_have_value("/who")
    await ana.keyboard.press("Enter")
    await expect(line(ana, "#lobby (2)")).to_be_visible()
    await expect(typing).to_be_empty()
    # Two at once; another room's typing stays in that room.
    pia = await open_page(browser, server)
    await log_in(pia, "pia")
    await ana.locator("#input").press_sequentially("uno")
    await pia.locator("#input").press_sequentially("dos")
    await expect(typing).to_have_text(re.compile("^(ana y pia|pia y ana) están escribiendo…$"))
    await say(bea, "/join #otra")
    await expect(bea.locator("#title")).to_have_text("#otra")
    await expect(typing).to_be_empty()
