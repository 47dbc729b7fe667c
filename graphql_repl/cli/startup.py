"""What ``serve`` and the token commands check before they start: the store (its driver,
its file's directory, whether it answers within the connect timeout) and the listening
socket, each failure a ``Failure`` naming what to do."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import MissingDriver, StoreError
from ..stores.url import FORMS, StoreURL
from .exits import EXIT_LISTEN, EXIT_STORE, EXIT_UNAVAILABLE, EXIT_USAGE
from .failures import Failure, one_line, quiet

if TYPE_CHECKING:
    from ..settings import Settings
    from ..stores import Store

ACCEPTED_FORMS = "; ".join(FORMS.values())


def sqlite_file(url: StoreURL) -> Path | None:
    """The absolute path of a SQLite store's file (None: another store, or in memory)."""
    if url.scheme != "sqlite" or url.host or url.database in ("", ":memory:"):
        return None
    return Path(url.database).expanduser().absolute()


def shown(url: StoreURL) -> str:
    """The URL to show in messages and hints: a SQLite file by its absolute path (so that a
    hint works from any directory), the password of any other hidden."""
    path = sqlite_file(url)
    return f"sqlite:///{path}" if path is not None else str(url)


def new_store(settings: Settings) -> Store:
    """The (unopened) store of ``settings``; a usage error for a URL no backend can use."""
    from ..stores import create_store

    url = settings.store
    path = sqlite_file(url)
    if url.scheme == "sqlite" and path is None and url.database != ":memory:":
        raise Failure(
            f"--store {url}: a SQLite URL has three slashes and a path; accepted forms: "
            f"{ACCEPTED_FORMS}",
            EXIT_USAGE,
        )
    try:
        return create_store(url, connect_timeout=settings.connect_timeout)
    except MissingDriver as exc:
        raise Failure(exc.message, EXIT_STORE) from exc
    except ValueError as exc:
        raise Failure(f"--store {url}: {one_line(str(exc))}", EXIT_USAGE) from exc


def check_file(url: StoreURL, *, create: bool) -> bool:
    """Whether the store's file exists (True for stores without one). Fails when its
    directory does not exist, when it is a directory, or when it is missing and ``create``
    is false."""
    path = sqlite_file(url)
    if path is None:
        return True
    if path.is_dir():
        raise Failure(f"the SQLite store {path} is a directory; name a file", EXIT_STORE)
    if not path.parent.is_dir():
        raise Failure(
            f"the directory of the SQLite store {path} does not exist: create {path.parent} "
            "first, or choose another --store",
            EXIT_STORE,
        )
    if not path.exists() and not create:
        raise Failure(
            f"there is no store at {path} (graphql-repl serve --store sqlite:///{path} "
            "creates it, or give the --store of your server)",
            EXIT_STORE,
        )
    return path.exists()


class Openable(Protocol):
    """A store, or a repository over one."""

    async def open(self) -> object: ...
    async def close(self) -> None: ...


async def open_store(store: Openable, settings: Settings, *, debug: bool) -> None:
    """Open ``store``; a failure names the store and what went wrong, as one line."""
    url = settings.store
    with quiet("graphql_repl.stores", debug):
        try:
            await store.open()
        except StoreError as exc:
            await store.close()
            raise _open_failure(url, exc, settings.connect_timeout) from exc


def _open_failure(url: StoreURL, exc: StoreError, timeout: float) -> Failure:
    cause = exc.__cause__
    if url.scheme == "sqlite":
        # The driver's own words name what is wrong with the file (sqlite3 names no path).
        reason = one_line(str(cause)) if cause is not None else exc.message
        return Failure(f"cannot open the SQLite store {sqlite_file(url)}: {reason}", EXIT_STORE)
    if _unreachable(cause):
        return Failure(
            f"cannot reach the store {url} (host {url.host}) within {timeout:g} s "
            "(GRAPHQL_REPL_CONNECT_TIMEOUT): is the database running there?",
            EXIT_UNAVAILABLE,
        )
    return Failure(f"cannot open the store {url}: {exc.message}", EXIT_STORE)


def _unreachable(cause: BaseException | None) -> bool:
    try:
        from pymongo.errors import ConnectionFailure
    except ImportError:  # pragma: no cover - the store opened with it
        return False
    return isinstance(cause, ConnectionFailure)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, before anything else happens, so that an address
    in use is the first and only thing said (uvicorn is handed the socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "address already in use (is another server running there? choose another --port)"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges; choose another --port)"
        else:
            why = f"{exc.strerror or exc} (check --host)"
        raise Failure(f"cannot listen on {host}:{port}: {why}", EXIT_LISTEN) from exc
    sock.set_inheritable(True)
    return sock
