"""The app's look, pinned: an SVG export compared with the stored one.

After a deliberate change of the look, regenerate with TERTULIA_UPDATE_SNAPSHOTS=1; the
README's screenshot is the same file.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from tertulia.client.connection import ChatClient
from tertulia.i18n import translator
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "tui.svg"


async def test_the_look_of_a_conversation(server: Server, tmp_path: Path) -> None:
    ana = await ChatClient.open("127.0.0.1", server.port)
    await ana.hello("ana")
    bea = await ChatClient.open("127.0.0.1", server.port)
    await bea.hello("bea")
    await bea.topic("#lobby", "pruebas de tertulia · sé amable")
    app = ChatApp(ana, ("127.0.0.1", 5000), "#lobby", translator("en"), clock=lambda: "12:00")
    async with app.run_test(size=(90, 16)) as pilot:
        await bea.say("#lobby", "¡hola! ¿alguien para probar tertulia?")
        await bea.say("#lobby", "ana, did the build pass?", action=False)
        await pilot.press(*"yes, all green", "enter")
        await pilot.press(*"/me waves", "enter")
        async with asyncio.timeout(10):
            while len(app.rooms["#lobby"].lines) < 6:
                await pilot.pause()
        app.rtt_ms = 1.0  # measured live; pinned for the picture
        app.refresh_status()
        await pilot.pause()
        svg = app.export_screenshot(title="tertulia chat")
    await bea.quit()
    await ana.close()
    svg = normalise(svg)
    (tmp_path / "tui.svg").write_text(svg)  # the artifact, whatever the outcome
    if os.environ.get("TERTULIA_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(svg)
    assert svg == normalise(SNAPSHOT.read_text()), f"the look changed: see {tmp_path / 'tui.svg'}"


def normalise(svg: str) -> str:
    # Rich names its CSS classes after a hash of the content; equal looks get equal text.
    return re.sub(r"terminal-\d+", "terminal", svg)
