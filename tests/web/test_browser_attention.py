"""What calls a person back to the page: desktop notifications, the unread count in the
tab's title, the "new messages" line, and emoji drawn in colour. A real Chromium against
a real server on port 0."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, expect

from browser import line, log_in, open_page, say
from chatclient import LineClient
from tertulia.server.app import Server

# Runs before the page's own script: records every Notification the page creates (and
# still creates it), counts permission requests, and lets the test hide and show the page
# as switching browser tabs would (headless Chromium keeps every page visible).
WATCH = """
window.__notes = [];
window.__asked = 0;
window.__hidden = false;
const RealNotification = window.Notification;
class RecordedNotification extends RealNotification {
  constructor(title, options = {}) {
    super(title, options);
    window.__notes.push({ title, body: options.body || "", note: this });
  }
  static requestPermission(...args) {
    window.__asked += 1;
    return RealNotification.requestPermission(...args);
  }
}
window.Notification = RecordedNotification;
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get: () => window.__hidden,
});
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
});
window.__setHidden = (hidden) => {
  window.__hidden = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""


async def watched_page(browser: Browser, server: Server, **context: Any) -> Page:
    return await open_page(browser, server, init_script=WATCH, **context)


async def notes(page: Page) -> list[dict[str, str]]:
    found: list[dict[str, str]] = await page.evaluate(
        "window.__notes.map(n => ({title: n.title, body: n.body}))"
    )
    return found


async def set_hidden(page: Page, hidden: bool) -> None:
    await page.evaluate(f"window.__setHidden({'true' if hidden else 'false'})")


async def test_a_hidden_page_notifies_mentions_and_private_messages_and_counts_unread(
    browser: Browser, server: Server
) -> None:
    page = await watched_page(browser, server, permissions=["notifications"])
    await log_in(page, "ana")
    assert await page.evaluate("Notification.permission") == "granted"
    pia = await LineClient.connect(server.port, "pia")
    await expect(page.locator("#member-list li")).to_have_text(["ana", "pia"])
    await expect(page).to_have_title("tertulia · ana")

    await set_hidden(page, True)
    await pia.send("hola a todos")
    await expect(page).to_have_title("(1) tertulia · ana")
    await pia.send("ana: ¿vienes a la tertulia?")
    await expect(page).to_have_title("(2) tertulia · ana")
    await pia.send("/msg ana psst, en privado")
    await expect(page).to_have_title("(3) tertulia · ana")
    # Only the mention and the private message notify; a plain line only counts.
    await page.wait_for_function("window.__notes.length >= 2")
    assert await notes(page) == [
        {"title": "pia in #lobby", "body": "ana: ¿vienes a la tertulia?"},
        {"title": "pia, privately", "body": "psst, en privado"},
    ]

    # Back on the page: the room in view is read, "new messages" sits where we left off,
    # and the private conversation's line is still unread.
    await set_hidden(page, False)
    await expect(page).to_have_title("(1) tertulia · ana")
    marker = page.locator("#log .new-marker")
    await expect(marker).to_have_count(1)
    await expect(marker).to_have_text("New messages")
    await expect(page.locator("#log .new-marker + .line")).to_contain_text("<pia> hola a todos")
    await expect(line(page, "<pia> ana: ¿vienes a la tertulia?")).to_be_visible()
    # Clicking the private message's notification opens its conversation.
    await page.evaluate("window.__notes[1].note.dispatchEvent(new Event('click'))")
    await expect(page.locator("#title")).to_have_text("private with pia")
    await expect(line(page, "<pia> psst, en privado")).to_be_visible()
    await expect(page).to_have_title("tertulia · ana")
    # While the page is in view, nothing notifies, even a mention in another room.
    await pia.send("ana: ¿me oyes?")
    lobby = page.locator("#room-list .tab", has_text="#lobby").locator(".unread")
    await expect(lobby).to_have_text("1")
    await expect(page).to_have_title("(1) tertulia · ana")
    assert len(await notes(page)) == 2


async def test_the_page_asks_for_notifications_when_you_enter(
    browser: Browser, server: Server
) -> None:
    page = await watched_page(browser, server)
    assert await page.evaluate("window.__asked") == 0
    await log_in(page, "ana")
    assert await page.evaluate("window.__asked") == 1
    # Refused or not answered, a mention while hidden notifies nobody and breaks nothing.
    await set_hidden(page, True)
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("ana: hola")
    await expect(page).to_have_title("(1) tertulia · ana")
    assert await notes(page) == []


async def test_new_messages_line_where_you_left_a_room(browser: Browser, server: Server) -> None:
    page = await open_page(browser, server)
    await log_in(page, "ana")
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("antes de irte")
    await expect(line(page, "<pia> antes de irte")).to_be_visible()
    await say(page, "/join #dev")
    await expect(page.locator("#title")).to_have_text("#dev")
    await pia.send("primero mientras no estabas")
    await pia.send("segundo mientras no estabas")
    lobby = page.locator("#room-list .tab", has_text="#lobby")
    await expect(lobby.locator(".unread")).to_have_text("2")
    await expect(page).to_have_title("(2) tertulia · ana")
    await lobby.click()
    marker = page.locator("#log .new-marker")
    await expect(marker).to_have_count(1)
    await expect(marker).to_have_attribute("role", "separator")
    await expect(page.locator("#log .new-marker + .line")).to_contain_text("primero mientras")
    await expect(page).to_have_title("tertulia · ana")
    # Coming back again after more lines moves the one line to the new place.
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.locator("#title")).to_have_text("#dev")
    await pia.send("tercero")
    await expect(lobby.locator(".unread")).to_have_text("1")
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#log .new-marker")).to_have_count(1)
    await expect(page.locator("#log .new-marker + .line")).to_contain_text("<pia> tercero")


async def test_emoji_are_drawn_with_a_colour_emoji_font(browser: Browser, server: Server) -> None:
    # .ci/run installs Noto Color Emoji; the page names it after the text fonts.
    page = await open_page(browser, server)
    await log_in(page, "ana")
    stack = await page.evaluate("getComputedStyle(document.body).fontFamily")
    for family in ("Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"):
        assert family in stack, stack
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("🎉🥳👍")
    await expect(line(page, "<pia> 🎉🥳👍")).to_be_visible()
    # Ask the renderer which fonts drew the message's text: the emoji font, every glyph.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = await cdp.send("DOM.getDocument")
    node = await cdp.send(
        "DOM.querySelector",
        {"nodeId": root["root"]["nodeId"], "selector": "#log .line.message .text"},
    )
    fonts = (await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]}))["fonts"]
    drawn = {f["familyName"]: f["glyphCount"] for f in fonts}
    assert drawn == {"Noto Color Emoji": 3}, f"{drawn}: is fonts-noto-color-emoji installed?"
