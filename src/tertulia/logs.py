"""Operator logs: levels, key=value fields in text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time

# Attributes every LogRecord has; anything else came in through `extra=` and is a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        obj.update(_fields(record))
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, default=str, ensure_ascii=False)


def setup(level: str = "info", as_json: bool = False) -> None:
    """Send tertulia's logs to stderr, leaving stdout for the `listening` lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger("tertulia")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # The WebSocket protocol's own INFO lines (every request, every handshake) only in debug.
    chatty = logging.getLogger("tertulia.server.web_door.protocol")
    chatty.setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
    # The PostgreSQL driver's pool logs each failed reconnection in several lines of its
    # own; the history already says that the store is away (once in full, then one line
    # per failure), so the driver's lines show only in debug, and in our format.
    driver = logging.getLogger("psycopg")
    driver.handlers[:] = [handler]
    driver.setLevel(logging.DEBUG if level.lower() == "debug" else logging.ERROR)
    driver.propagate = False
