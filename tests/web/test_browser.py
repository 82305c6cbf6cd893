"""The browser client in a real Chromium, against a real server on port 0."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from browser import line, log_in, open_page, say
from chatclient import LineClient
from conftest import ServerFactory
from tertulia.protocols import slash
from tertulia.server.app import Server
from tertulia.tui.widgets import PALETTE, nick_colour


async def test_two_pages_and_a_plain_client_chat(browser: Browser, server: Server) -> None:
    ana = await open_page(browser, server)
    await log_in(ana, "ana")
    bea = await open_page(browser, server)
    await log_in(bea, "bea")
    pia = await LineClient.connect(server.port, "pia")
    await expect(ana.locator("#member-list li")).to_have_text(["ana", "bea", "pia"])

    await say(ana, "hola desde el navegador")
    await expect(line(bea, "<ana> hola desde el navegador")).to_be_visible()
    await pia.expect("[ana] hola desde el navegador")
    await pia.send("hola desde netcat")
    await expect(line(ana, "<pia> hola desde netcat")).to_be_visible()
    await expect(line(bea, "<pia> hola desde netcat")).to_be_visible()
    await say(bea, "/me saluda")
    await expect(line(ana, "* bea saluda")).to_be_visible()
    await pia.expect("* bea saluda")
    # A mention of ana is highlighted on ana's page, with its time.
    await pia.send("ana: mira https://example.org/docs, por favor")
    mention = ana.locator("#log .line.mention", has_text="mira")
    await expect(mention).to_be_visible()
    await expect(mention.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    link = mention.locator("a")
    await expect(link).to_have_attribute("href", "https://example.org/docs")
    await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    # Nicks have the terminal client's colour.
    colour = (
        await ana.locator("#log .line", has_text="hola desde netcat")
        .locator(".nick")
        .get_attribute("class")
    )
    assert colour == f"nick c-{nick_colour('pia')}"

    await say(ana, "/topic tertulia en el navegador")
    await expect(bea.locator("#topic")).to_have_text("tertulia en el navegador")
    await say(ana, "/msg bea en privado")
    private = bea.locator("#room-list .tab", has_text="ana")
    await expect(private.locator(".unread")).to_have_text("1")
    await expect(ana.locator("#room-list .tab", has_text="bea").locator(".unread")).to_have_count(0)
    await pia.send("/quit")
    await expect(line(ana, "pia quit")).to_be_visible()
    await expect(ana.locator("#member-list li")).to_have_text(["ana", "bea"])
    await private.click()
    await expect(line(bea, "<ana> en privado")).to_be_visible()
    await expect(bea.locator("#title")).to_have_text("private with ana")


async def test_markup_in_messages_is_shown_as_text_and_never_runs(
    browser: Browser, server: Server
) -> None:
    page = await open_page(browser, server)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await log_in(page, "ana")
    other = await open_page(browser, server)
    await log_in(other, "bea")
    pia = await LineClient.connect(server.port, "pia")
    attacks = [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script>",
        '<a href="javascript:alert(3)">click</a>',
        'javascript:alert(4) http://x.test/"onmouseover=alert(5)',
    ]
    for text in attacks:
        await pia.send(text)
    await say(other, "<b onclick=alert(6)>negrita</b><svg onload=alert(7)>")
    for text in attacks:
        await expect(line(page, text)).to_be_visible()
    await expect(line(page, "<b onclick=alert(6)>negrita</b><svg onload=alert(7)>")).to_be_visible()
    # Give an onerror or onload every chance to run: the page must still be clean.
    await page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
    assert dialogs == []
    markup = await page.evaluate(
        "document.querySelectorAll('#log :is(img, script, svg, b, [onclick])').length"
    )
    assert markup == 0
    hrefs = await page.eval_on_selector_all("#log a", "links => links.map(a => a.href)")
    assert all(h.startswith("http") for h in hrefs) and hrefs, hrefs


async def test_a_refused_nick_is_shown_on_the_nick_screen(browser: Browser, server: Server) -> None:
    squatter = await LineClient.connect(server.port, "ana")
    page = await open_page(browser, server)
    await page.fill("#nick", "Ana")
    await page.press("#nick", "Enter")
    await expect(page.locator("#login-error")).to_contain_text("already in use")
    await expect(page.locator("#nick")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#chat")).to_be_hidden()
    await page.fill("#nick", "9lives")
    await page.press("#nick", "Enter")
    await expect(page.locator("#login-error")).to_contain_text("invalid nick")
    await log_in(page, "ana2")
    await squatter.expect("ana2 joined #lobby")


async def test_keyboard_only_rooms_and_unread_counts(browser: Browser, server: Server) -> None:
    page = await open_page(browser, server)
    await expect(page.locator("#nick")).to_be_focused()
    await page.keyboard.type("ana")
    await page.keyboard.press("Enter")
    await expect(page.locator("#input")).to_be_focused()
    await page.keyboard.type("/join #dev")
    await page.keyboard.press("Enter")
    await expect(page.locator("#title")).to_have_text("#dev")
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("en el lobby")
    lobby = page.locator("#room-list .tab", has_text="#lobby")
    await expect(lobby.locator(".unread")).to_have_text("1")
    await expect(lobby.locator(".unread")).to_have_attribute("aria-label", "1 unread")
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#title")).to_have_text("#lobby")
    await expect(lobby.locator(".unread")).to_have_count(0)
    await expect(line(page, "<pia> en el lobby")).to_be_visible()
    # Tab completes a nick, then moves focus on when there is nothing to complete.
    await page.locator("#input").focus()
    await page.keyboard.type("pi")
    await page.keyboard.press("Tab")
    await expect(page.locator("#input")).to_have_value("pia: ")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    # Landmarks and labels a screen reader announces.
    await expect(page.get_by_role("log", name="Messages")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Rooms")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("connected")


async def test_the_page_reconnects_after_the_server_restarts(
    browser: Browser, make_server: ServerFactory
) -> None:
    first = await make_server(irc=False)
    ports = {"port": first.port, "web_port": int(first.addresses("web")[0].rsplit(":", 1)[1])}
    page = await open_page(browser, first)
    await log_in(page, "ana")
    await say(page, "/join #dev")
    await expect(page.locator("#title")).to_have_text("#dev")
    await first.shutdown()
    await expect(line(page, "shutting down")).to_be_visible()
    await expect(page.locator("#state")).to_contain_text("reconnecting")
    second = await make_server(irc=False, **ports)
    await expect(page.locator("#state")).to_have_text("connected", timeout=20_000)
    pia = await LineClient.connect(second.port, "pia")
    await pia.send("/who #dev")
    await pia.expect("#dev (1): ana")
    await pia.send("/join #dev")
    await pia.send("de vuelta")
    await expect(line(page, "<pia> de vuelta")).to_be_visible()


async def test_a_phone_sized_screen_is_usable(browser: Browser, server: Server) -> None:
    page = await open_page(
        browser, server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        locale="es-ES", color_scheme="dark",
    )  # fmt: skip
    await expect(page.locator("label[for=nick]")).to_have_text("Tu apodo")
    await page.fill("#nick", "ana")
    await page.locator("#login-button").tap()
    await expect(page.locator("#state")).to_have_text("conectado")
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("hola desde el portátil")
    await expect(line(page, "<pia> hola desde el portátil")).to_be_visible()
    await page.fill("#input", "hola desde el móvil")
    await page.get_by_role("button", name="Enviar").tap()
    await pia.expect("[ana] hola desde el móvil")
    # Everything needed fits the screen: no sideways scrolling, input and button in view.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    for selector in (
        "#input", "#send-form button[type=submit]", "#room-list .tab", "#state", "#away-toggle",
        "#members-toggle",
    ):  # fmt: skip
        box = await page.locator(selector).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        assert box["y"] + box["height"] <= 844, selector
    # Members sit behind a button on a phone.
    await expect(page.locator("#members")).to_be_hidden()
    await page.get_by_role("button", name="Miembros").tap()
    await expect(page.locator("#members")).to_be_visible()
    await expect(page.locator("#member-list li")).to_have_text(["ana", "pia"])


async def test_nick_colours_match_the_terminal_client(browser: Browser, server: Server) -> None:
    page = await open_page(browser, server)
    nicks = ["ana", "Bea", "pia", "carlos_", "[zz]", "x" * 30]
    colours = await page.evaluate("nicks => nicks.map(n => window.tertulia.nickColour(n))", nicks)
    assert colours == [nick_colour(n) for n in nicks]
    assert await page.evaluate("window.tertulia.PALETTE") == list(PALETTE)


async def test_the_page_serves_completes_and_lists_the_registry_commands(
    browser: Browser, server: Server
) -> None:
    page = await open_page(browser, server, locale="es-ES")
    await page.fill("#nick", "ana")
    await page.press("#nick", "Enter")
    await expect(page.locator("#state")).to_have_attribute("data-state", "connected")
    web = [c.name for c in slash.commands(slash.Where.WEB)]
    handled = await page.evaluate("names => names.map(n => window.tertulia.handles(n))", web)
    assert dict(zip(web, handled, strict=True)) == dict.fromkeys(web, True)
    await page.fill("#input", "/que")
    await page.press("#input", "Tab")
    await expect(page.locator("#input")).to_have_value("/query ")
    await say(page, "/help")
    await expect(line(page, "/query APODO · abre una conversación privada")).to_be_visible()
    await say(page, "/list")  # an alias, from the registry too
    await expect(line(page, "#lobby (1)")).to_be_visible()
    await expect(line(page, "/query")).to_have_count(1)
    await expect(line(page, "/kick APODO [motivo]")).to_be_visible()


async def test_moderation_from_the_page(browser: Browser, make_server: ServerFactory) -> None:
    server = await make_server()
    page = await open_page(browser, server)
    await log_in(page, "ana")
    await say(page, "/join #club")
    await expect(page.locator("#member-list li")).to_have_text(["@ana"])
    bo = await LineClient.connect(server.port, "bo")
    await bo.send("/join #club")
    await bo.expect("you are bo, in #club")
    await say(page, "/mute bo")
    await expect(line(page, "Done: #club · m:bo!*@*")).to_be_visible()
    await bo.send("anyone?")
    assert "you cannot speak in #club" in await bo.expect("! ")
    await say(page, "/unmute bo")
    await bo.send("thanks")
    await expect(line(page, "<bo> thanks")).to_be_visible()
    await say(page, "/ban bo enough")
    await bo.expect("bo was put out of #club by ana")
    await bo.send("/join #club")
    assert "you are banned from #club" in await bo.expect("! ")
    await say(page, "/serverbans")
    await expect(line(page, "only server operators may do that")).to_be_visible()


async def test_a_newcomer_sees_history_pages_back_and_searches(
    browser: Browser, make_server: ServerFactory
) -> None:
    server = await make_server(history_replay=5)
    pia = await LineClient.connect(server.port, "pia")
    witness = await LineClient.connect(server.port, "witness")
    for i in range(12):
        await pia.send(f"mensaje {i}" + (" sobre la canción" if i == 3 else ""))
    await witness.expect("[pia] mensaje 11")
    page = await open_page(browser, server)
    await log_in(page, "ana")
    history = page.locator("#log .line.history")
    await expect(history).to_have_count(5)
    await expect(history.last).to_contain_text("<pia> mensaje 11")
    await page.get_by_role("button", name="Earlier messages").click()
    await expect(history).to_have_count(12)
    await expect(history.first).to_contain_text("<pia> mensaje 0")
    await expect(page.get_by_role("button", name="Earlier messages")).to_be_hidden()
    assert await page.locator("#room-list .unread").count() == 0
    await page.get_by_role("searchbox", name="Search this room").fill("CANCION")
    await page.press("#search", "Enter")
    await expect(line(page, "1 found for “CANCION” in #lobby")).to_be_visible()
    await expect(page.locator("#log .line.found")).to_have_text(
        re.compile(r"<pia> mensaje 3 sobre la canción")
    )


async def test_logging_in_to_a_registered_nick_from_the_page(
    browser: Browser, server: Server
) -> None:
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("/register pan-con-tomate")
    await ana.expect("is registered to you")
    await ana.send("/quit")
    await ana.closed()
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/msg ana te espero en la web")
    page = await open_page(browser, server)
    await page.get_by_label("Your nick").fill("ana")
    await page.get_by_label("Password (for a registered nick)").fill("pan-con-tomate")
    await page.press("#password", "Enter")
    await expect(page.locator("#state")).to_have_text("connected")
    # The private message kept while ana was away is handed over at login.
    await expect(line(page, "1 messages arrived while you were away")).to_be_visible()
    await page.locator("#room-list .tab", has_text="bob").click()
    await expect(line(page, "<bob> te espero en la web")).to_be_visible()
    other = await open_page(browser, server)
    await other.fill("#nick", "ana")
    await other.fill("#password", "equivocada")
    await other.press("#password", "Enter")
    await expect(other.locator("#login-error")).to_have_text("wrong nick or password")
    await expect(other.locator("#chat")).to_be_hidden()


async def test_the_page_shows_the_message_of_the_day_as_text(
    browser: Browser, make_server: ServerFactory
) -> None:
    server: Server = await make_server(motd="Bienvenidos <b>todos</b>\nNo spam")
    page = await open_page(browser, server)
    await log_in(page, "ana")
    await expect(line(page, "* Bienvenidos <b>todos</b>")).to_be_visible()
    await expect(line(page, "* No spam")).to_be_visible()
    await expect(page.locator("#log b")).to_have_count(0)  # shown as text, never markup
