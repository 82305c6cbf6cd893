"""The IRC door: sockets, timers and hub calls around the sans-I/O code of
`tertulia.protocols.irc`, with one small module per family of commands."""

from tertulia.server.irc.handler import IrcHandler

__all__ = ["IrcHandler"]
