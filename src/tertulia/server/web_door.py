"""The web door: the browser client's files, /ws (JSON objects as frames), /healthz, /metrics.

One TCP connection carries either one HTTP request and its response, or a WebSocket. The
websockets library's sans-I/O ServerProtocol reads the request and checks the opening
handshake; once the WebSocket is open it is dropped, and our own FrameReader
(protocols/websocket.py) reads the client's frames, for a fraction of its memory and time
per connection. Everything sent goes through the same bounded, coalesced Connection as
every other door, so the slow-consumer bound is the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from websockets.datastructures import Headers, MultipleValuesError
from websockets.http11 import Request, Response
from websockets.protocol import SEND_EOF, Protocol
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from tertulia.core.errors import N_, BadRequest, LineTooLong, TertuliaError
from tertulia.core.session import Door
from tertulia.i18n import LANGUAGES, translator
from tertulia.protocols import slash
from tertulia.protocols import websocket as wsf
from tertulia.protocols.websocket import CloseCode
from tertulia.server.connection import Connection
from tertulia.server.flood import Fakelag
from tertulia.server.irc import IrcHandler
from tertulia.server.json_door import JsonHandler
from tertulia.server.liveness import Pinged

if TYPE_CHECKING:
    from tertulia.core.session import Session
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)
# The websockets protocol logs every request and handshake at INFO: too chatty for operators.
protocol_log = logging.getLogger(__name__ + ".protocol")

# Nothing inline, nothing from elsewhere: a message that smuggles markup still cannot run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
REQUEST_SECONDS = 10.0  # to send a whole HTTP request after connecting
# Room for a JSON object around a message of max_message_bytes, escapes included.
FRAME_OVERHEAD = 1024
IRC_LINE_BYTES = 4096 + 512  # client tags and an IRC line's body
# IRCv3 websocket transport: where IRC clients upgrade, and the two framings.
IRC_PATHS = frozenset({"/", "/irc"})
IRC_SUBPROTOCOLS = {"binary.ircv3.net": wsf.irc_binary_frame, "text.ircv3.net": wsf.irc_text_frame}
COMMANDS_PATH = "/commands.json"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """The browser client, read once from the package: no build step at run time."""
    assets: dict[str, Asset] = {}
    for item in resources.files("tertulia.web").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in CONTENT_TYPES:
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            assets["/" + item.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    assets["/"] = assets["/index.html"]
    assets[COMMANDS_PATH] = commands_asset()
    return assets


def commands_asset() -> Asset:
    """The `/` command registry for the page's help and completion, in every language."""
    data = slash.as_data({lang: translator(lang) for lang in LANGUAGES})
    body = json.dumps({"commands": data}, ensure_ascii=False, separators=(",", ":")).encode()
    return Asset(body, "application/json", '"' + hashlib.sha256(body).hexdigest()[:16] + '"')


def response(
    status: int, reason: str, body: bytes, content_type: str, *extra: tuple[str, str]
) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *SECURITY_HEADERS,
            *extra,
        ]
    )
    return Response(status, reason, headers, body)


def text_response(status: int, reason: str, text: str) -> Response:
    return response(status, reason, text.encode() + b"\n", "text/plain; charset=utf-8")


def trusted_host(host: str | None, names: tuple[str, ...]) -> bool:
    """Whether a browser's Host is this machine by address, localhost, or a configured
    name. A rebinding attack points a name of the attacker's at our address: its pages are
    same-origin with that name, so the Origin check alone lets them in."""
    if host is None:
        return False
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:  # an unclosed '[': no address, and no name either
        return False
    if name in ("localhost", *(n.lower() for n in names)) or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def same_origin(origin: str, host: str | None) -> bool:
    """Whether a page's Origin is the host it asks (`http(s)://` + the Host header)."""
    try:
        parts = urlsplit(origin)
    except ValueError:  # `http://[` is no origin a browser sends
        return False
    return parts.scheme in ("http", "https") and host is not None and parts.netloc == host.lower()


def request_path(target: str) -> str | None:
    """The path of a request's target, or None for one no URL parser reads (`//[`)."""
    try:
        return urlsplit(target).path
    except ValueError:
        return None


class _RequestOnly(Protocol):
    """Stands between ServerProtocol and Protocol in WebProtocol's MRO, where websockets'
    frame parser would be: ServerProtocol.parse reads the request, then hands on to this,
    which reads nothing. The bytes behind the request stay in the reader's buffer for the
    door's FrameReader, which reads them only once the 101 has gone out (a pong to a ping
    sent with the request must follow it), or never if the upgrade is refused."""

    def parse(self) -> Generator[None]:
        while True:
            yield


class WebProtocol(ServerProtocol, _RequestOnly):
    """websockets' server protocol for the opening handshake only, offering IRC's
    subprotocols on IRC paths only."""

    irc_wanted = False  # set for an upgrade on an IRC path

    def behind(self) -> bytes:
        """What the client sent after its request (frames, once the 101 is sent)."""
        return bytes(self.reader.buffer)

    def select_subprotocol(self, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
        # IRCv3 websocket: the client's order decides between binary and text; the JSON
        # door speaks no subprotocol.
        if self.irc_wanted:
            for name in subprotocols:
                if name in IRC_SUBPROTOCOLS:
                    return name
        return None


class WebConnection(Connection):
    """A Connection whose bytes are an HTTP request, then a WebSocket's frames, instead of
    lines. `ws` reads the request and is dropped once the WebSocket opens; `frames` reads
    the frames from then on."""

    __slots__ = ("frames", "frames_follow_lines", "ws")

    def __init__(self, server: DoorContext) -> None:
        super().__init__(server, Door.WEB)
        self.ws: WebProtocol | None = WebProtocol(logger=protocol_log)
        self.frames: wsf.FrameReader | None = None
        self.frames_follow_lines = False

    def data_received(self, data: bytes) -> None:
        if not self._accepting(data):
            return
        if self.frames is not None:
            self._read(self.frames.feed(data))
        elif self.ws is not None:
            self.ws.receive_data(data)
            self._handshake(self.ws)
        self._hold_if_congested()

    def eof_received(self) -> bool | None:
        self.reason = "client closed the connection"
        if self.ws is not None:
            self.ws.receive_eof()
            self._handshake(self.ws)
        elif not self._closing:
            # A WebSocket's stream ended without the closing handshake: nothing to say.
            Connection.close(self)
        return None

    def close(self, data: bytes | None = None, code: int | None = None) -> None:
        if self._closing or self.transport is None:
            return
        if data:
            self.deliver(data)
        if code is None:
            # A last reply (the `bye` to a quit) means the client asked to leave: a normal
            # closure. Without one the server is leaving it: going away.
            code = CloseCode.NORMAL_CLOSURE if data else CloseCode.GOING_AWAY
        if self.frames is not None and not self.frames.done:
            self.deliver(wsf.close_frame(code))
        super().close()

    def refuse(self, text: str) -> None:
        if self.ws is not None:
            self.ws.send_response(text_response(503, "Service Unavailable", text))
            self._send_response(self.ws)

    def line_limit_changed(self, limit: int) -> None:
        # A JSON WebSocket's messages are lines of the JSON protocol; IRC's are IRC lines.
        if self.frames is not None and self.frames_follow_lines:
            self.frames.max_size = limit + FRAME_OVERHEAD

    def open_frames(self, max_size: int, follow_lines: bool = False) -> None:
        """The handshake's 101 is decided: send it, and read frames from now on, starting
        with those that came behind the request. With `follow_lines` the bound follows
        max_line_bytes at a reload."""
        self.frames_follow_lines = follow_lines
        ws, self.ws = self.ws, None
        if ws is None:
            return
        self._send_response(ws)
        self.frames = wsf.FrameReader(max_size, ws.behind())
        # Its suspended parser refers back to it: closed, the protocol and the request it
        # read go now, not at the next full garbage collection.
        ws.parser.close()

    def fail(self, code: int, reason: str) -> None:
        """Fail the WebSocket: a close frame saying why, then the end of the connection."""
        if self.frames is not None:
            self.frames.done = True
        self.deliver(wsf.close_frame(code, reason))
        self.reason = f"websocket closed ({code})"
        Connection.close(self)

    def _handshake(self, ws: WebProtocol) -> None:
        """Hand the request to the handler, send what the protocol wants sent (a response,
        the end of the stream), then read any frames that came behind an accepted upgrade."""
        try:
            for event in ws.events_received():
                if self._closing:
                    return
                if isinstance(event, Request):  # the only event a request-only protocol has
                    cast("WebHandler", self.handler).on_request(event)
        except Exception:
            log.exception("internal error on the web door", extra={"peer": self.peer})
            self.close()
            return
        if self.ws is not None:
            self._send_response(ws)
        elif self.frames is not None and not self._closing:
            self._read(self.frames.feed(b""))  # what came behind the request

    def _send_response(self, ws: WebProtocol) -> None:
        for chunk in ws.data_to_send():
            if chunk is SEND_EOF or chunk == SEND_EOF:
                Connection.close(self)
                return
            self.deliver(chunk)

    def _read(self, events: list[wsf.Event]) -> None:
        """Answer the protocol's own frames (pings, the closing handshake) and hand each
        message to the handler; any frame at all is a sign of life."""
        handler = cast("WebHandler", self.handler)
        try:
            for event in events:
                if self._closing:
                    return
                handler.heard_from()
                if isinstance(event, wsf.Message):
                    handler.on_message(event)
                elif isinstance(event, wsf.Ping):
                    self.deliver(wsf.pong_frame(event.data))
                elif isinstance(event, wsf.Closed):
                    # The client's close frame echoed, or why we fail it; then the end.
                    self.deliver(event.reply)
                    if event.code != CloseCode.NORMAL_CLOSURE:
                        self.reason = f"websocket closed ({event.code})"
                    Connection.close(self)
        except Exception:
            log.exception("internal error on the web door", extra={"peer": self.peer})
            self.close(code=CloseCode.INTERNAL_ERROR)


class WebHandler(Pinged):
    """HTTP routing until a WebSocket opens, then a JSON session fed by text frames."""

    __slots__ = (
        "conn", "fakelag", "heard", "irc", "json", "pinged", "server", "timer",
    )  # fmt: skip

    def __init__(self, server: DoorContext, conn: WebConnection) -> None:
        self.server = server
        self.conn = conn
        self.json: JsonHandler | None = None
        self.irc: IrcHandler | None = None  # an IRC client over WebSocket
        # Flood control: messages past the connection's bucket wait their turn here.
        self.fakelag: Fakelag[wsf.Message] | None = None
        # An HTTP request needs no thinking time: a socket that sends none is let go soon.
        # Once a WebSocket opens, the server's Liveness watches it instead.
        self.timer: asyncio.TimerHandle | None = server.loop.call_later(
            REQUEST_SECONDS, self._no_request
        )

    @property
    def session(self) -> Session | None:
        if self.irc is not None:
            return self.irc.session
        return None if self.json is None else self.json.session

    # -- what the WebConnection hands over ------------------------------------------------

    def on_request(self, request: Request) -> None:
        ws = self.conn.ws
        if ws is None:  # pragma: no cover - the protocol reads one request, then is dropped
            return
        try:
            self._request(ws, request)
        except MultipleValuesError as exc:
            # Two Host or Origin headers: which one to believe? Neither (a 400, not the
            # traceback it was).
            self.server.stats.errors["bad_request"] += 1
            text = f"more than one {exc.args[0] if exc.args else 'such'} header"
            ws.send_response(text_response(400, "Bad Request", text))

    def on_message(self, message: wsf.Message) -> None:
        if self.json is None and self.irc is None:
            return
        if self.fakelag is not None:
            self.fakelag.backlog.append(message)  # behind those already waiting their turn
            return
        bucket = self.conn.bucket
        if bucket is not None:
            delay = bucket.take()
            if delay > 0:
                self.fakelag = Fakelag(self.conn, bucket, self._message, self._let_go, self._calm)
                self.fakelag.backlog.append(message)
                self.fakelag.hold(delay)
                return
        self._message(message)

    def _let_go(self) -> None:
        log.info("closed: flooding", extra={"peer": self.conn.peer})
        self.conn.reason = "flooding"
        self.conn.close(code=CloseCode.POLICY_VIOLATION)

    def _calm(self) -> None:
        self.fakelag = None

    def _message(self, message: wsf.Message) -> None:
        data = message.data
        if self.irc is not None:
            # One IRC line per message, its CR LF optional (IRCv3 websocket).
            self.irc.on_line(data.removesuffix(b"\n").removesuffix(b"\r"))
        elif self.json is None:
            return
        elif len(data) > self.server.settings.max_line_bytes:
            self.json.error(None, LineTooLong(limit=self.server.settings.max_line_bytes))
        elif message.text:
            self.json.on_line(data)
        else:
            self.json.error(None, BadRequest(reason=N_("send JSON objects as text frames")))

    def on_line(self, item: object) -> None:  # pragma: no cover - the web door has no lines
        raise TypeError("the web door reads frames, not lines")

    def internal_error(self) -> bytes:  # pragma: no cover - the web door closes with 1011
        return b""

    def farewell(self, err: TertuliaError) -> bytes:  # pragma: no cover - frames: see on_event
        inner = self.irc or self.json
        return inner.farewell(err) if inner is not None else b""

    def on_close(self, reason: str) -> None:
        self._stop_deadline()
        self.server.liveness.forget(self)
        if self.fakelag is not None:
            self.fakelag.cancel()
        if self.json is not None:
            self.json.on_close(reason)
        if self.irc is not None:
            self.irc.on_close(reason)

    # -- HTTP -----------------------------------------------------------------------------

    def _request(self, ws: WebProtocol, request: Request) -> None:
        path = request_path(request.path)
        if path is None:
            self.server.stats.errors["bad_request"] += 1
            ws.send_response(text_response(400, "Bad Request", "the request target is no URL"))
            return
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if path == "/ws" or (path in IRC_PATHS and upgrade):
            ws.irc_wanted = path in IRC_PATHS
            self._upgrade(ws, request)
            return
        stats = self.server.stats
        if request.method not in ("GET", "HEAD"):
            resp = text_response(405, "Method Not Allowed", "only GET and HEAD")
            resp.headers["Allow"] = "GET, HEAD"
        elif path == "/healthz":
            resp = response(
                200, "OK", stats.health(), "application/json", ("Cache-Control", "no-store")
            )
        elif path == "/metrics":
            resp = response(200, "OK", stats.metrics(), CONTENT_TYPE_LATEST)
        elif (asset := self.server.assets.get(path)) is not None:
            cache = ("Cache-Control", "no-cache")
            if request.headers.get("If-None-Match") == asset.etag:
                resp = response(304, "Not Modified", b"", asset.content_type, cache)
                resp.headers["ETag"] = asset.etag
            else:
                resp = response(
                    200, "OK", asset.body, asset.content_type, cache, ("ETag", asset.etag)
                )
        else:
            resp = text_response(404, "Not Found", "not found")
        if request.method == "HEAD":
            resp = Response(resp.status_code, resp.reason_phrase, resp.headers, b"")
        ws.send_response(resp)

    def _upgrade(self, ws: WebProtocol, request: Request) -> None:
        settings = self.server.settings
        origin = request.headers.get("Origin")
        # Browsers always send Origin; programs (bots, our tests) may not, and are not the
        # cross-site risk the check is for.
        host = request.headers.get("Host")
        if origin is not None and not (
            origin in settings.web_origins
            or (same_origin(origin, host) and trusted_host(host, settings.web_hosts))
        ):
            self.server.stats.errors["bad_origin"] += 1
            log.info("refused: origin", extra={"peer": self.conn.peer, "origin": origin})
            ws.send_response(text_response(403, "Forbidden", "origin not allowed"))
            return
        resp = ws.accept(request)
        if resp.status_code != 101:
            self.server.stats.errors["bad_handshake"] += 1
        for name, value in SECURITY_HEADERS[1:]:
            resp.headers[name] = value
        ws.send_response(resp)
        if resp.status_code == 101:
            frame = IRC_SUBPROTOCOLS.get(ws.subprotocol or "")
            if frame is not None:
                self._open_irc(frame)
            elif ws.irc_wanted:
                # An IRC path without an IRC subprotocol: nothing to speak. The WebSocket
                # opens (the 101 is sent) only to be closed with the reason.
                self.conn.open_frames(0)
                self.conn.fail(
                    CloseCode.PROTOCOL_ERROR, "IRC needs text.ircv3.net or binary.ircv3.net"
                )
            else:
                self._open()

    def _open(self) -> None:
        server = self.server
        self.conn.open_frames(server.settings.max_line_bytes + FRAME_OVERHEAD, follow_lines=True)
        session = server.hub.connect(self.conn, server.web_encoder, Door.WEB, self.conn.peer)
        self.json = JsonHandler(
            server,
            self.conn,
            session,
            door=Door.WEB,
            encoder=server.web_encoder,
            wrap=wsf.line_frame,
        )
        server.start_nick_timer(self.conn)
        self._watch()
        log.debug("websocket open", extra={"peer": self.conn.peer})

    def _open_irc(self, frame: Callable[[bytes], bytes]) -> None:
        """An IRC client over WebSocket: the IRC door's handler, each line a frame."""
        # An IRC line may carry 4096 bytes of client tags before its 512.
        self.conn.open_frames(IRC_LINE_BYTES + FRAME_OVERHEAD)
        self.irc = IrcHandler(self.server, self.conn, frame)
        self._watch()
        log.debug("irc websocket open", extra={"peer": self.conn.peer})

    # -- liveness (Pinged) ---------------------------------------------------------------

    def _no_request(self) -> None:
        self.timer = None
        conn = self.conn
        if not conn.closing and conn.frames is None:
            conn.abort("no request in time")

    def _stop_deadline(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _watch(self) -> None:
        self._stop_deadline()
        self.server.liveness.watch(self, self.server.loop)

    def finished(self) -> bool:
        return self.conn.closing

    def send_ping(self) -> None:
        self.conn.deliver(wsf.ping_frame(b"tertulia"))

    def ping_timeout(self) -> None:
        log.info("closed: ping timeout", extra={"peer": self.conn.peer})
        self.conn.close()
