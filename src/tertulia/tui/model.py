"""What the terminal client knows of each conversation, apart from how it is drawn: lines
kept up to a limit, messages by id (to drop repeats, answer replies and place reactions),
the topic, and who is a member, an operator or has a voice."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from rich.text import Text

SCROLLBACK = 1000  # lines kept per conversation; older ones are dropped


def fold(nick: str) -> str:
    """Nicks are the same ignoring case, as the server holds them."""
    return nick.casefold()


@dataclass
class Said:
    """One message on screen, by its msgid: what replies quote and reactions land on."""

    msgid: str
    sender: str
    text: str
    kind: str
    ts: float | None
    reply_to: str = ""
    # emoji -> who reacted with it, in order
    reactions: dict[str, list[str]] = field(default_factory=dict)
    old: bool = False  # from the history: said before you came
    line: Text | None = None  # its line in `Conversation.lines`, while it is kept


class Conversation:
    """A room, or a private conversation with one nick (then `private` is true)."""

    def __init__(self, name: str, private: bool = False, scrollback: int = SCROLLBACK) -> None:
        self.name = name
        self.private = private
        self.topic = ""
        self.members: set[str] = set()
        self.operators: set[str] = set()
        self.voiced: set[str] = set()
        self.unread = 0
        self.lines: deque[Text] = deque(maxlen=scrollback)
        # Messages by msgid, newest last: at most twice the lines kept, so that a message
        # already shown is known when the server replays it after a reconnection.
        self.said: OrderedDict[str, Said] = OrderedDict()
        self._keep = 2 * scrollback

    def seen(self, msgid: str) -> bool:
        return bool(msgid) and msgid in self.said

    def add(self, line: Text, said: Said | None = None) -> None:
        self.lines.append(line)
        if said is not None and said.msgid:
            said.line = line
            self.said[said.msgid] = said
            while len(self.said) > self._keep:
                self.said.popitem(last=False)

    def replace(self, said: Said, line: Text) -> bool:
        """Put `line` where `said`'s line is; False if that line is no longer kept."""
        for at, kept in enumerate(self.lines):
            if kept is said.line:
                self.lines[at] = line
                said.line = line
                return True
        return False

    def remove(self, msgid: str) -> bool:
        """Take message `msgid` off (it was redacted); False if it is not shown."""
        said = self.said.pop(msgid, None)
        if said is None or said.line is None:
            return False
        try:
            self.lines.remove(said.line)
        except ValueError:
            return False
        return True

    def nth_last(self, n: int) -> Said | None:
        """The n-th newest message with an id (1 is the last one), for replies and reactions."""
        shown = {id(line) for line in self.lines}
        kept = [s for s in self.said.values() if id(s.line) in shown]
        return kept[-n] if 0 < n <= len(kept) else None

    def set_state(
        self,
        topic: str,
        members: tuple[str, ...] | list[str],
        operators: tuple[str, ...] | list[str] = (),
        voiced: tuple[str, ...] | list[str] = (),
    ) -> None:
        """The room as a join, who or welcome describes it."""
        self.topic = topic
        self.members = set(members)
        self.operators = set(operators)
        self.voiced = set(voiced)

    def drop(self, nick: str) -> bool:
        """`nick` left; True if it was a member."""
        was = nick in self.members
        self.members.discard(nick)
        self.operators.discard(nick)
        self.voiced.discard(nick)
        return was

    def rename(self, old: str, new: str) -> bool:
        """`old` is now `new`; True if it was a member."""
        was = old in self.members
        for group in (self.members, self.operators, self.voiced):
            if old in group:
                group.discard(old)
                group.add(new)
        return was

    def apply_modes(self, modes: str, args: tuple[str, ...] | list[str]) -> None:
        """IRC's MODE string as the server sends it (`+o-v`, args in order): operators and
        voices change; the other modes only use up their arguments."""
        rest = list(args)
        adding = True
        for letter in modes:
            if letter in "+-":
                adding = letter == "+"
                continue
            # As IRC: these take an argument both ways, a limit only when set.
            takes = letter in "ovbeIhqak" or (letter == "l" and adding)
            arg = rest.pop(0) if takes and rest else ""
            group = {"o": self.operators, "v": self.voiced}.get(letter)
            if group is None or not arg:
                continue
            if adding:
                group.add(arg)
            else:
                group.discard(arg)


def mark(conversation: Conversation, nick: str) -> str:
    """The nick list's mark: `@` an operator, `+` a voice, a space for the rest."""
    if nick in conversation.operators:
        return "@"
    if nick in conversation.voiced:
        return "+"
    return " "


def ranked(conversation: Conversation) -> list[str]:
    """The members as the nick list shows them: operators, then voices, then the rest."""
    order = {"@": 0, "+": 1, " ": 2}
    return sorted(conversation.members, key=lambda n: (order[mark(conversation, n)], n.casefold()))


def excerpt(text: str, words: int = 5, width: int = 40) -> str:
    """The first words of a message, to say what a reply answers."""
    parts = text.split()
    short = " ".join(parts[:words])
    if len(short) > width:
        short = short[:width].rstrip()
    return short + ("…" if short != " ".join(parts) else "")
