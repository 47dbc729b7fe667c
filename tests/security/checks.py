"""What every answer of the server must look like, whatever it was sent (CONTRACT §6)."""

from __future__ import annotations

import re
from typing import Any

import orjson

CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "INTERNAL_SERVER_ERROR"}
)

# A stack trace, a source location, or the name of a Python exception class in a message.
LEAK = re.compile(
    r"Traceback|File \"|\.py\", line|site-packages|\b(?:"
    r"TypeError|ValueError|KeyError|AttributeError|IndexError|AssertionError|RuntimeError|"
    r"OverflowError|RecursionError|UnicodeError|UnicodeDecodeError|UnicodeEncodeError|"
    r"ZeroDivisionError|NameError|NotImplementedError|StopIteration|JSONDecodeError|"
    r"OperationalError|IntegrityError|InterfaceError|ProgrammingError|DatabaseError|"
    r"OSError|MemoryError|sqlite3|pymongo|orjson)\b|"
    # The messages of Python's own exceptions.
    r"object has no attribute|object is not (?:subscriptable|iterable|callable)|"
    r"indices must be integers|unhashable type|NoneType|positional argument|"
    r"unsupported operand|not supported between instances|object of type '\w+' has no"
)


class BadAnswer(AssertionError):
    """The server answered in a way the contract forbids."""


def leaked(message: str) -> str | None:
    found = LEAK.search(message)
    return None if found is None else found.group(0)


def check_errors(errors: Any, context: str = "") -> list[str]:
    """Every error has a message without internals and a contract code; returns the codes."""
    if not isinstance(errors, list) or not errors:
        raise BadAnswer(f"`errors` must be a non-empty list: {errors!r:.500} {context}")
    codes = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            raise BadAnswer(f"malformed GraphQL error {error!r:.500} {context}")
        word = leaked(error["message"])
        if word is not None:
            raise BadAnswer(f"internal detail {word!r} in {error['message']!r:.800} {context}")
        if "stacktrace" in str(error.get("extensions") or {}).lower():
            raise BadAnswer(f"stack trace in extensions: {error!r:.800} {context}")
        code = (error.get("extensions") or {}).get("code")
        if code not in CODES:
            raise BadAnswer(f"error code {code!r} not in the contract: {error!r:.800} {context}")
        codes.append(code)
    return codes


def check_http(status: int, content_type: str, body: bytes, context: str = "") -> dict[str, Any]:
    """A well-formed GraphQL response over HTTP: no 5xx, a JSON object with ``data`` and/or
    ``errors``, and clean contract errors. Returns the parsed body."""
    if status >= 500:
        raise BadAnswer(f"HTTP {status}: {body[:800]!r} {context}")
    if "json" not in content_type:
        raise BadAnswer(f"HTTP {status} with {content_type!r}, not JSON: {body[:500]!r} {context}")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadAnswer(f"HTTP {status}: body is not JSON: {body[:500]!r} {context}") from None
    if not isinstance(parsed, dict) or not ({"data", "errors"} & parsed.keys()):
        raise BadAnswer(f"HTTP {status}: not a GraphQL response: {parsed!r:.500} {context}")
    if parsed.get("errors") is not None:
        check_errors(parsed["errors"], context)
    elif status != 200:
        raise BadAnswer(f"HTTP {status} without errors: {parsed!r:.500} {context}")
    return parsed


# The first line of a log record (uvicorn's "INFO:" style, or the package's timestamped one).
_RECORD = re.compile(r"^(?:\d{4}-\d\d-\d\d |(?:INFO|ERROR|WARNING|DEBUG|CRITICAL):)")


def tracebacks(log: str, ignore: tuple[str, ...] = ()) -> list[str]:
    """The log records of a server log that hold a traceback (chained ones included);
    those whose text contains one of ``ignore`` are left out."""
    records: list[list[str]] = []
    for line in log.splitlines():
        if not records or _RECORD.match(line):
            records.append([])
        records[-1].append(line)
    found = ["\n".join(r) for r in records if any(x.startswith("Traceback") for x in r)]
    return [t for t in found if not any(word in t for word in ignore)]
