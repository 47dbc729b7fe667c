"""Logging for ``serve`` and ``replicate``: every line on stderr, as text or as JSON lines
(``--log-format``), uvicorn's loggers included.

Code logs through ``logging.getLogger(__name__)`` as usual; the fields an event carries
(``extra=``) are appended to a text line as ``key=value`` and are keys of a JSON line.
JSON is written by python-json-logger (with orjson), never by hand.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import orjson
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")

# Record attributes that are not fields of the event: the standard ones, and uvicorn's
# coloured copy of its message.
_NOT_FIELDS = frozenset(RESERVED_ATTRS) | {"color_message"}
# Libraries that log a line per request at INFO; shown from WARNING unless debugging.
NOISY_LOGGERS = ("httpx", "httpcore", "gql", "websockets", "pymongo")


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...``: the fields after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(
            f"{key}={_text(value)}"
            for key, value in record.__dict__.items()
            if key not in _NOT_FIELDS and key != "event" and value is not None
        )
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # a traceback stays below the line
        return f"{head} {fields}{newline}{rest}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value and '"' not in value else f'"{value}"'
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(value, default=str).decode()


def json_formatter() -> logging.Formatter:
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, then the
    event's fields (``exc_info`` holds a traceback, when there is one)."""
    return OrjsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=sorted(_NOT_FIELDS),
        json_default=str,
    )


def configure_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record of at least ``level`` to ``stream`` (stderr) in format ``fmt``
    (``text`` or ``json``), replacing any handler the root logger had."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # uvicorn's own loggers write through ours (serve gives uvicorn no logging config).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
