"""Fuzz the plain door's reading: framer, first-line rules, then chat lines, as the door does."""

from __future__ import annotations

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from tertulia.config import Settings
    from tertulia.core.errors import TertuliaError
    from tertulia.core.names import check_nick, fold
    from tertulia.protocols import jsonlines, plain, slash
    from tertulia.protocols.framing import LineFramer, Overlong
    from tertulia.protocols.text import decode

SETTINGS = Settings()


def check_line(parsed: plain.Line | None, text: str) -> None:
    """What parse_line returns says no more and no less than the line."""
    match parsed:
        case None:
            assert not text.strip()
        case plain.Logout(reason=reason):
            assert text.strip() == plain.LOGOUT or text[1:].lower().startswith("quit")
            assert reason == reason.strip()
        case plain.Command(name=name, arg=arg):
            assert text.startswith("/") and not text.startswith("//")
            assert " " not in name and name == name.lower() and arg == arg.strip()
        case plain.Say(text=said):
            assert said.strip() and said in (text, text[1:])


def check_original(text: str) -> tuple[str, str] | None:
    """parse_original splits `[nick] text` and nothing else, and loses nothing."""
    found = plain.parse_original(text)
    if found is not None:
        nick, said = found
        assert 1 <= len(nick) <= 64 and not any(c in "[] \t\n" for c in nick)
        assert text in (f"[{nick}]{said}", f"[{nick}] {said}")
    return found


def first_line(text: str) -> str:
    """The door's rules for a first line; the nick it would register."""
    original = check_original(text)
    if original is not None:
        return original[0]
    parsed = plain.parse_line(text)
    check_line(parsed, text)
    match parsed:
        case plain.Command(name="nick" | "login", arg=arg):
            return arg
        case plain.Say(text=said):
            return said.strip()
    return ""


def chat_line(text: str, nick: str) -> str:
    """The door's rules for a later line: which command, or what is said."""
    split = check_original(text)
    if split is not None and fold(split[0]) == fold(nick):
        text = split[1]
    parsed = plain.parse_line(text)
    check_line(parsed, text)
    if isinstance(parsed, plain.Command):
        command = slash.find(parsed.name, slash.Where.PLAIN)
        return "/" + command.name if command else "unknown"
    return repr(parsed)


def read(chunks: list[bytes]) -> list[str]:
    """What the door makes of each line of the stream, as short strings to compare."""
    framer = LineFramer(SETTINGS.max_line_bytes)
    nick: str | None = None
    seen: list[str] = []
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, Overlong):
                seen.append("overlong")
                continue
            try:
                if nick is None and item.startswith(b"{"):
                    # The switch to JSON lines: from here on it is the JSON door's stream.
                    seen.append(repr(jsonlines.parse_request(decode(item))))
                    return seen
                text = decode(item)
                if nick is None:
                    wanted = first_line(text)
                    if wanted:
                        nick = check_nick(wanted, SETTINGS.nick_length)
                        seen.append("nick " + nick)
                else:
                    seen.append(chat_line(text, nick))
            except TertuliaError as err:
                err.render()
                seen.append(err.code)
    return seen + [repr(line) for line in framer.flush()]


def test_one_input(data: bytes) -> None:
    whole, *others = (read(chunks) for chunks in chunkings(data))
    for other in others:
        assert other == whole


if __name__ == "__main__":
    fuzz(test_one_input, "plain.dict")
