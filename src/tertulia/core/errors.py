"""The errors users see: each carries a stable code and an English message template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(message: str) -> str:
    """Mark a string for translation without translating it (gettext's no-op marker)."""
    return message


# What a user typed comes back in an error at most this long: a 300-character nick is
# answered with its first 49 characters and an ellipsis. 50 is the longest room name by
# default, so a name the server would take is always quoted whole.
QUOTED_LENGTH = 50
# Arguments that are not something a user typed: templates, our own texts, an operator's
# reasons and paths. Every other string argument is quoted, and cut.
_NOT_QUOTED = frozenset({"reason", "usage", "path", "field"})


def quoted(value: object) -> object:
    """`value` cut to QUOTED_LENGTH characters with an ellipsis, if it is a longer string."""
    if isinstance(value, str) and len(value) > QUOTED_LENGTH:
        return value[: QUOTED_LENGTH - 1] + "…"
    return value


class TertuliaError(Exception):
    """An error to show the user as one line: translated at the door, never a traceback."""

    code = "error"
    template = N_("something went wrong")

    def __init__(self, **args: Any) -> None:
        self.args_map = args
        super().__init__(self.render())

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        """The message in the reader's language; a `reason` argument is a template too.
        What the user typed (a nick, a room, a command) is quoted cut to QUOTED_LENGTH."""
        tr = translate or _identity
        args: dict[str, Any] = {
            k: v if k in _NOT_QUOTED else quoted(v) for k, v in self.args_map.items()
        }
        if isinstance(args.get("reason"), str):
            reason = tr(args["reason"])
            try:
                args["reason"] = reason.format(**args)
            except (KeyError, IndexError, ValueError):
                args["reason"] = reason  # free text (a database's words), not a template
        text = tr(self.template).format(**args)
        # What a user typed may be quoted back; a lone surrogate in it could not be sent.
        return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _identity(text: str) -> str:
    return text


class NickInvalid(TertuliaError):
    code = "nick_invalid"
    template = N_("invalid nick {nick!r}: {reason}")


class NickInUse(TertuliaError):
    code = "nick_in_use"
    template = N_("the nick {nick} is already in use, choose another")


class NotRegistered(TertuliaError):
    code = "not_registered"
    template = N_("choose a nick first")


class AlreadyRegistered(TertuliaError):
    code = "already_registered"
    template = N_("you already have a nick")


class RoomInvalid(TertuliaError):
    code = "room_invalid"
    template = N_("invalid room name {room!r}: {reason}")


class NoSuchRoom(TertuliaError):
    code = "no_such_room"
    template = N_("there is no room {room}")


class NotInRoom(TertuliaError):
    code = "not_in_room"
    template = N_("you are not in {room}")


class NoRoom(TertuliaError):
    code = "no_room"
    template = N_("you are not in any room: /join one")


class NotOperator(TertuliaError):
    code = "not_operator"
    template = N_("you are not an operator of {room}")


class NotMember(TertuliaError):
    code = "not_member"
    template = N_("{nick} is not in {room}")


class InviteOnly(TertuliaError):
    code = "invite_only"
    template = N_("{room} is invite-only")


class BadKey(TertuliaError):
    code = "bad_key"
    template = N_("{room} needs the right key")


class RoomFull(TertuliaError):
    code = "room_full"
    template = N_("{room} is full")


class Moderated(TertuliaError):
    code = "moderated"
    template = N_("{room} is moderated: only operators and voiced members speak")


class BadMode(TertuliaError):
    code = "bad_mode"
    template = N_("unknown or incomplete mode {mode}")


class NoSuchNick(TertuliaError):
    code = "no_such_nick"
    template = N_("nobody is called {nick}")


class MessageTooLong(TertuliaError):
    code = "message_too_long"
    template = N_("message too long ({size} bytes, the limit is {limit}): not sent")


class EmptyMessage(TertuliaError):
    code = "empty_message"
    template = N_("empty message: nothing sent")


class BadText(TertuliaError):
    code = "bad_text"
    template = N_("control characters are not allowed: not sent")


class BadUnicode(BadText):
    """A lone surrogate (U+D800..U+DFFF): JSON's `\\ud800` escapes can carry one, and no
    wire format can write it, so it is refused where it enters."""

    template = N_("{field} holds a lone surrogate (U+D800 to U+DFFF), which is not text: refused")


class NotStored(TertuliaError):
    """The store failed the commit of a message: it was not sent to anyone."""

    code = "history_unavailable"
    template = N_("the history cannot store messages right now: not sent")


class TopicTooLong(TertuliaError):
    code = "topic_too_long"
    template = N_("topic too long ({size} characters, the limit is {limit})")


class LineTooLong(TertuliaError):
    code = "line_too_long"
    template = N_("line too long (the limit is {limit} bytes): discarded")


class BadEncoding(TertuliaError):
    code = "bad_encoding"
    template = N_("the line is not valid UTF-8: discarded")


class UnknownCommand(TertuliaError):
    code = "unknown_command"
    template = N_("unknown command /{command}: try /help")


class Usage(TertuliaError):
    code = "usage"
    template = N_("usage: {usage}")


class NickTimeout(TertuliaError):
    code = "nick_timeout"
    template = N_("no nick after {seconds} seconds: closing")


class BadRequest(TertuliaError):
    code = "bad_request"
    template = N_("bad request: {reason}")


class ServerFull(TertuliaError):
    code = "server_full"
    template = N_("the server is full ({limit} clients), try again later")


class HistoryOff(TertuliaError):
    code = "history_off"
    template = N_("this server keeps no history")


class HistoryBusy(TertuliaError):
    code = "history_busy"
    template = N_("too many history requests at once, try again in a moment")


class HistoryFailed(TertuliaError):
    code = "history_failed"
    template = N_("the history cannot be read right now, sorry")


class NoAccounts(TertuliaError):
    code = "no_accounts"
    template = N_("this server keeps no accounts")


class AccountExists(TertuliaError):
    code = "account_exists"
    template = N_("{nick} is already registered")


class BadLogin(TertuliaError):
    code = "bad_login"
    template = N_("wrong nick or password")


class WrongPassword(BadLogin):
    """`/password OLD NEW` with a wrong OLD: the nick is the user's own, so say which was wrong.
    The code stays bad_login: clients and the lockout treat it as a failed login."""

    template = N_("that is not your current password: the password stays as it was")


class TooManyFailures(TertuliaError):
    code = "too_many_failures"
    template = N_("too many failed logins: try again in {seconds} s")


class PasswordTooShort(TertuliaError):
    code = "password_too_short"
    template = N_("a password needs at least {min} characters")


class NotLoggedIn(TertuliaError):
    code = "not_logged_in"
    template = N_("log in first")


class SessionGone(TertuliaError):
    """A slow request (a login) finished after its client left; nobody is told."""

    code = "gone"
    template = N_("the connection is gone")


class Banned(TertuliaError):
    code = "banned"
    template = N_("you are banned from {room}")


class ListFull(TertuliaError):
    code = "list_full"
    template = N_("the {mode} list of {room} is full")


class NotRoomOwner(TertuliaError):
    code = "not_room_owner"
    template = N_("{room} is registered to another account")


class WrongOperPassword(TertuliaError):
    code = "wrong_oper_password"
    template = N_("wrong operator name or password")


class NoPrivileges(TertuliaError):
    code = "no_privileges"
    template = N_("only server operators may do that")


class CannotSend(TertuliaError):
    """Speaking in a room from outside (+n), or while banned from it."""

    code = "cannot_send"
    template = N_("you cannot speak in {room}")


class InternalError(TertuliaError):
    """A bug of ours while serving a client: it gets this line, the log the traceback."""

    code = "internal"
    template = N_("internal error, sorry: closing")


class UnknownMessage(TertuliaError):
    code = "unknown_message"
    template = N_("there is no message {msgid} to take back in {room}")


class RedactForbidden(TertuliaError):
    code = "redact_forbidden"
    template = N_("only its sender or an operator of {room} may take back a message")


class TooManyRooms(TertuliaError):
    code = "too_many_rooms"
    template = N_("you are in {limit} rooms already: leave one first")


class TooManyConnections(TertuliaError):
    """A connection the per-address limits refuse (settings max_per_address and others)."""

    code = "too_many_connections"
    template = N_("too many connections from your address: try again later")


class Flooding(TertuliaError):
    """A client that kept sending past its flood allowance (settings flood_rate and others)."""

    code = "flooding"
    template = N_("too many lines too fast: closing")


class TooManyRegistrations(TertuliaError):
    code = "too_many_registrations"
    template = N_("too many accounts registered from your address: try again later")


class TlsUnusable(TertuliaError):
    code = "tls_unusable"
    template = N_("the TLS certificate or key cannot be used: {reason}")
