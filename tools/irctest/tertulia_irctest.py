"""irctest controller for tertulia: starts `tertulia serve` with only the IRC door open.

Used by `make irctest` (see docs/irc.md); irctest imports it by module name with
`--controller tertulia_irctest`, so this directory goes on PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.cases import BaseServerTestCase
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
server_name = "My.Little.Server"
server_info = "test server"
nick_length = 32

[operators]
operuser = "operpassword"
"""


def _tertulia() -> str:
    found = os.environ.get("TERTULIA_BIN") or str(REPO / ".venv" / "bin" / "tertulia")
    if not Path(found).exists():
        found = shutil.which("tertulia") or found
    return found


class TertuliaController(BaseServerController, DirectoryBasedController):
    software_name = "tertulia"
    _port_wait_interval = 0.02
    supported_sasl_mechanisms = {"PLAIN"}
    supports_sts = False
    extban_mute_char = "m"

    capabilities = frozenset(
        (
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_MONITOR,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_REDACTION,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.READ_MARKER,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        )
    )
    optional_behaviors = frozenset(
        (
            OptionalBehaviors.BAN_EXCEPTION_MODE,
            OptionalBehaviors.CAP_REQ_MINUS,
            OptionalBehaviors.INVITE_EXCEPTION_MODE,
            OptionalBehaviors.ELIST_M,
            OptionalBehaviors.ELIST_N,
            OptionalBehaviors.ELIST_U,
            OptionalBehaviors.INVITE_LIST,
            OptionalBehaviors.MULTI_JOIN,
            OptionalBehaviors.METADATA_BEFORE_CONNECT,
            OptionalBehaviors.MULTI_NAMES_COMMAND,
            OptionalBehaviors.MULTI_KICK,
            OptionalBehaviors.MULTI_PRIVMSG,
        )
    )

    isupport = {
        "BOT": "B",
        "CASEMAPPING": "ascii",
        "CHANMODES": "beI,k,l,imnst",
        "CHANTYPES": "#",
        "ELIST": "MNU",
        "EXCEPTS": "e",
        "INVEX": "I",
        "MONITOR": "100",
        "NICKLEN": "32",
        "PREFIX": "(ov)@+",
        "UTF8ONLY": None,
        "WHOX": None,
    }

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None = None,
        websocket_port: int | None = None,
    ) -> None:
        if ssl:
            raise NotImplementedByController("TLS")
        if websocket_hostname not in (None, hostname):
            raise NotImplementedByController("Websocket on another address")
        if faketime:
            raise NotImplementedByController("Faketime")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory
        with self.open_file("tertulia.toml") as fd:
            fd.write(CONFIG)
        args = [
            _tertulia(), "serve", "--host", hostname, "--port", "0",
            "--irc-port", str(port), "--data-dir", str(self.directory / "data"),
            "--config", str(self.directory / "tertulia.toml"),
        ]  # fmt: skip
        # IRC over WebSocket is the web door's, on its own port.
        args += ["--web-port", str(websocket_port)] if websocket_port else ["--no-web"]
        if password:
            args += ["--password", password]
        env = {**os.environ, "TERTULIA_LOG_LEVEL": "debug" if self.debug_mode else "warning"}
        self.proc = self.execute(args, env=env)

    def registerUser(
        self, case: BaseServerTestCase, username: str, password: str | None = None
    ) -> None:
        # Accounts are made the way a user makes one: NickServ REGISTER, once registered.
        client = case.addClient(show_io=False)
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER r e g :user")
        while case.getRegistrationMessage(client).command != "001":
            pass
        case.getMessages(client)
        case.sendLine(client, f"PRIVMSG NickServ :REGISTER {password}")
        while not any(m.command == "NOTICE" for m in case.getMessages(client)):
            pass
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)


def get_irctest_controller_class() -> type[TertuliaController]:
    return TertuliaController
