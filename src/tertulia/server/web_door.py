"""The web door: the browser client's files, /ws (JSON objects as frames), /healthz, /metrics.

One TCP connection carries either one HTTP request and its response, or a WebSocket. The
websockets library's sans-I/O ServerProtocol parses the request and the client's frames,
answers pings and runs the closing handshake; the bytes it wants sent go through the same
bounded, coalesced Connection as every other door, so the slow-consumer bound is the same.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from websockets.datastructures import Headers, MultipleValuesError
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import CONNECTING, OPEN, SEND_EOF
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from tertulia.core.errors import N_, BadRequest, LineTooLong, TertuliaError
from tertulia.core.session import Door
from tertulia.i18n import LANGUAGES, translator
from tertulia.protocols import slash
from tertulia.protocols import websocket as wsf
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
DATA_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})
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


class WebProtocol(ServerProtocol):
    """websockets' server protocol, offering IRC's subprotocols on IRC paths only, and
    answering no frame before the handshake's response."""

    irc_wanted = False  # set for an upgrade on an IRC path
    # Frames sent before the response: websockets reads the frames that came with the
    # upgrade request at once, and its pong to a ping among them would precede the 101.
    early: list[Frame] | None = None

    def send_frame(self, frame: Frame) -> None:
        if self.state is CONNECTING:
            self.early = [*(self.early or ()), frame]
            return
        super().send_frame(frame)

    def send_response(self, response: Response) -> None:
        super().send_response(response)
        early, self.early = self.early, None
        if early and response.status_code == 101:  # after any other, no WebSocket: dropped
            for frame in early:
                super().send_frame(frame)

    def select_subprotocol(self, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
        # IRCv3 websocket: the client's order decides between binary and text; the JSON
        # door speaks no subprotocol.
        if self.irc_wanted:
            for name in subprotocols:
                if name in IRC_SUBPROTOCOLS:
                    return name
        return None


class WebConnection(Connection):
    """A Connection whose bytes go through a WebSocket protocol instead of a line framer."""

    __slots__ = ("ws",)

    def __init__(self, server: DoorContext) -> None:
        super().__init__(server, Door.WEB)
        limit = server.settings.max_line_bytes + FRAME_OVERHEAD
        self.ws = WebProtocol(max_size=limit, logger=protocol_log)

    def data_received(self, data: bytes) -> None:
        if self._accepting(data):
            self.ws.receive_data(data)
            self._pump()
            self._hold_if_congested()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self.reason = "client closed the connection"
        self._pump()
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
        if self.ws.state is OPEN:
            self.deliver(wsf.close_frame(code))
        super().close()

    def refuse(self, text: str) -> None:
        self.ws.send_response(text_response(503, "Service Unavailable", text))
        self._pump()

    def _pump(self) -> None:
        """Hand each received event to the handler, each followed by what the protocol
        wants sent for it: a client that sends frames right behind its upgrade request
        must get the 101 before the replies to those frames."""
        try:
            for event in self.ws.events_received():
                if self._closing:
                    return
                self.handler.on_event(event)  # type: ignore[union-attr]
                if not self._send_protocol_bytes():
                    return
        except Exception:
            log.exception("internal error on the web door", extra={"peer": self.peer})
            self.close(code=CloseCode.INTERNAL_ERROR)
            return
        self._send_protocol_bytes()

    def _send_protocol_bytes(self) -> bool:
        """Queue the handshake response, pongs and close frames; False once closing."""
        for chunk in self.ws.data_to_send():
            if chunk is SEND_EOF or chunk == SEND_EOF:
                code = self.ws.close_code
                if code is not None and code != CloseCode.NORMAL_CLOSURE:
                    self.reason = f"websocket closed ({code})"
                super().close()
                return False
            self.deliver(chunk)
        return not self._closing


class WebHandler(Pinged):
    """HTTP routing until a WebSocket opens, then a JSON session fed by text frames."""

    __slots__ = (
        "conn", "fakelag", "heard", "irc", "json", "parts", "pinged", "server", "timer",
    )  # fmt: skip

    def __init__(self, server: DoorContext, conn: WebConnection) -> None:
        self.server = server
        self.conn = conn
        self.json: JsonHandler | None = None
        self.irc: IrcHandler | None = None  # an IRC client over WebSocket
        # Flood control: messages past the connection's bucket wait their turn here.
        self.fakelag: Fakelag[tuple[Opcode, bytes]] | None = None
        self.parts: list[Frame] = []  # a fragmented message so far
        # An HTTP request needs no thinking time: a socket that sends none is let go soon.
        self.watch(REQUEST_SECONDS)

    @property
    def session(self) -> Session | None:
        if self.irc is not None:
            return self.irc.session
        return None if self.json is None else self.json.session

    # -- what the WebConnection hands over ------------------------------------------------

    def on_event(self, event: Request | Frame) -> None:
        if isinstance(event, Request):
            ws = self.conn.ws
            if ws.eof_sent or ws.state is not CONNECTING:
                # Bytes behind the request (a second one, pipelined) are not the frames the
                # protocol expects after it, and it has already given up: so do we, quietly.
                self.conn.close()
                return
            try:
                self._request(event)
            except MultipleValuesError as exc:
                # Two Host or Origin headers: which one to believe? Neither (a 400, not
                # the traceback it was).
                self.server.stats.errors["bad_request"] += 1
                text = f"more than one {exc.args[0] if exc.args else 'such'} header"
                self.conn.ws.send_response(text_response(400, "Bad Request", text))
            return
        self.heard_from()
        if (self.json is None and self.irc is None) or event.opcode not in DATA_OPCODES:
            return
        # The protocol bounds a fragmented message's total size; here the parts are joined.
        self.parts.append(event)
        if not event.fin:
            return
        first, data = self.parts[0], b"".join(bytes(p.data) for p in self.parts)
        self.parts = []
        message = (first.opcode, data)
        if self.fakelag is not None:
            self.fakelag.backlog.append(message)  # behind those already waiting their turn
            return
        bucket = self.conn.bucket
        if bucket is not None:
            delay = bucket.take()
            if delay > 0:
                self.fakelag = Fakelag(self.conn, bucket, self._waited, self._let_go, self._calm)
                self.fakelag.backlog.append(message)
                self.fakelag.hold(delay)
                return
        self._message(*message)

    def _waited(self, message: tuple[Opcode, bytes]) -> None:
        self._message(*message)

    def _let_go(self) -> None:
        log.info("closed: flooding", extra={"peer": self.conn.peer})
        self.conn.reason = "flooding"
        self.conn.close(code=CloseCode.POLICY_VIOLATION)

    def _calm(self) -> None:
        self.fakelag = None

    def _message(self, opcode: Opcode, data: bytes) -> None:
        if self.irc is not None:
            # One IRC line per message, its CR LF optional (IRCv3 websocket).
            self.irc.on_line(data.removesuffix(b"\n").removesuffix(b"\r"))
        elif self.json is None:
            return
        elif len(data) > self.server.settings.max_line_bytes:
            self.json.error(None, LineTooLong(limit=self.server.settings.max_line_bytes))
        elif opcode is Opcode.TEXT:
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
        self.stop_watching()
        if self.fakelag is not None:
            self.fakelag.cancel()
        if self.json is not None:
            self.json.on_close(reason)
        if self.irc is not None:
            self.irc.on_close(reason)

    # -- HTTP -----------------------------------------------------------------------------

    def _request(self, request: Request) -> None:
        ws, path = self.conn.ws, request_path(request.path)
        if path is None:
            self.server.stats.errors["bad_request"] += 1
            ws.send_response(text_response(400, "Bad Request", "the request target is no URL"))
            return
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if path == "/ws" or (path in IRC_PATHS and upgrade):
            self.conn.ws.irc_wanted = path in IRC_PATHS
            self._upgrade(request)
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

    def _upgrade(self, request: Request) -> None:
        ws, settings = self.conn.ws, self.server.settings
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
        # websockets' parser keeps the request in a suspended generator's locals for the
        # life of the connection; its headers are most of it (some 2 KB per WebSocket).
        request.headers.clear()
        if resp.status_code == 101:
            frame = IRC_SUBPROTOCOLS.get(ws.subprotocol or "")
            if frame is not None:
                self._open_irc(frame)
            elif self.conn.ws.irc_wanted:
                # An IRC path without an IRC subprotocol: nothing to speak. The protocol
                # closes, so that its close frame follows the 101 still queued in it.
                ws.fail(CloseCode.PROTOCOL_ERROR, "IRC needs text.ircv3.net or binary.ircv3.net")
            else:
                self._open()

    def _open(self) -> None:
        server = self.server
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
        self.stop_watching()
        self.watch(server.settings.ping_interval)
        log.debug("websocket open", extra={"peer": self.conn.peer})

    def _open_irc(self, frame: Callable[[bytes], bytes]) -> None:
        """An IRC client over WebSocket: the IRC door's handler, each line a frame."""
        self.irc = IrcHandler(self.server, self.conn, frame)
        # An IRC line may carry 4096 bytes of client tags before its 512 (the parser reads
        # the limit afresh for each frame).
        self.conn.ws.max_message_size = IRC_LINE_BYTES + FRAME_OVERHEAD
        self.stop_watching()
        self.watch(self.server.settings.ping_interval)
        log.debug("irc websocket open", extra={"peer": self.conn.peer})

    # -- liveness (Pinged) ---------------------------------------------------------------

    def finished(self) -> bool:
        # Before the WebSocket opens the timer is the request deadline: then it only ends.
        conn = self.conn
        opened = self.json is not None or self.irc is not None
        if not conn.closing and not opened and conn.ws.state is not OPEN:
            conn.abort("no request in time")
        return conn.closing or not opened

    def send_ping(self) -> None:
        ws = self.conn.ws
        ws.send_ping(b"tertulia")
        for chunk in ws.data_to_send():
            self.conn.deliver(chunk)

    def ping_timeout(self) -> None:
        log.info("closed: ping timeout", extra={"peer": self.conn.peer})
        self.conn.close()
