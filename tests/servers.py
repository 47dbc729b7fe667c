"""Real ``graphql-repl serve`` processes and tokens for the suites that talk to servers.

Nothing here imports the server: every server is a separate OS process started with the
installed ``graphql-repl`` command, and every token comes from ``graphql-repl token create``.
Used by the API, security and browser suites and the server-to-server suite
(``tests/remote``), through the ``server_factories`` fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mongo_server
import pytest
from store_urls import STORE_KINDS, new_store_url

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
ROLES = ("reader", "writer", "replicator", "admin")


def graphql_repl_command() -> str:
    """The installed console script (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).with_name("graphql-repl")
    if beside.exists():
        return str(beside)
    found = shutil.which("graphql-repl")
    if found is None:
        pytest.fail("the graphql-repl command is not installed (pip install -e '.[dev]')")
    return found


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_token(store: str, role: str, tenant: str | None = None) -> str:
    """``graphql-repl token create``: the token it prints alone on stdout."""
    args = [graphql_repl_command(), "token", "create", "--role", role, "--store", store]
    if tenant is not None:
        args += ["--tenant", tenant]
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=mongo_server.subprocess_env(),
    )
    assert done.returncode == 0, f"token create failed: {done.stderr}"
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"token create must print the token alone, got {done.stdout!r}"
    token = lines[0].strip()
    assert token
    assert " " not in token
    return token


@dataclass
class Server:
    """One running ``graphql-repl serve`` process."""

    store: str  # the store URL
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] | None = None  # extra environment it was started with
    args: tuple[str, ...] = ()  # extra ``serve`` arguments it was started with
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def token(self, role: str, tenant: str | None = None) -> str:
        """A token of ``role`` (bound to ``tenant``) for this server's store, made once."""
        key = (role, tenant)
        if key not in self._tokens:
            self._tokens[key] = create_token(self.store, role, tenant)
        return self._tokens[key]

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the process and wait for it; kills it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


class ServerFactory:
    """Starts servers (each on a fresh port, by default on a fresh store: a SQLite file in
    ``directory``, or a database of its own on ``mongodb``) and stops every one it started
    when it is closed."""

    def __init__(self, directory: Path, mongodb: str | None = None) -> None:
        self.directory = directory
        self.mongodb = mongodb
        self.servers: list[Server] = []
        self._stores = itertools.count()

    @property
    def kind(self) -> str:
        """The kind of store its servers use: ``sqlite`` or ``mongodb``."""
        return "sqlite" if self.mongodb is None else "mongodb"

    def new_store(self) -> str:
        """The URL of a new, empty store of this factory's kind."""
        return new_store_url(self.kind, self.directory, f"server{next(self._stores)}", self.mongodb)

    def start(
        self,
        store: str | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> Server:
        store = store or self.new_store()
        last_error = ""
        for _attempt in range(3):
            server = self._spawn(store, env, args=args)
            error = self._wait_healthy(server)
            if error is None:
                return server
            last_error = error
            server.stop()
            if "address already in use" not in server.log_text().lower():
                break
        pytest.fail(f"graphql-repl serve did not become healthy: {last_error}")

    def restart(self, server: Server, sig: int = signal.SIGTERM) -> None:
        """Stop ``server`` with ``sig`` (SIGKILL: as if it crashed) and start it again on
        the same store and port; ``server`` then stands for the new process."""
        server.stop(sig)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            new = self._spawn(server.store, server.env, server.port, server.args)
            self.servers.remove(new)
            error = self._wait_healthy(new)
            if error is None:
                server.process = new.process
                return
            new.stop()
            if "address already in use" not in error.lower() or time.monotonic() > deadline:
                pytest.fail(f"graphql-repl serve did not restart: {error}")
            time.sleep(0.2)

    def _spawn(
        self,
        store: str,
        env: dict[str, str] | None,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> Server:
        port = port or free_port()
        log = self.directory / f"server-{port}.log"
        process_env = {
            k: v
            for k, v in mongo_server.subprocess_env().items()
            if not k.startswith("GRAPHQL_REPL_")
        }
        process_env.update(env or {})
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    graphql_repl_command(),
                    "serve",
                    "--store",
                    store,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=process_env,
            )
        server = Server(store, port, process, log, env, args)
        self.servers.append(server)
        return server

    @staticmethod
    def _wait_healthy(server: Server) -> str | None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not server.alive():
                return f"exited with {server.process.returncode}:\n{server.log_text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.health_url, timeout=2).status_code == 200:
                    return None
            time.sleep(0.05)
        return f"no healthy /health within {STARTUP_TIMEOUT} s:\n{server.log_text()}"

    def close(self, servers: list[Server] | None = None) -> None:
        """Stop ``servers`` (default: every server this factory started), all at once."""
        servers = list(self.servers if servers is None else servers)
        for server in servers:
            if server.alive():
                server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.stop()
            if server in self.servers:
                self.servers.remove(server)


class ServerFactories:
    """A ``ServerFactory`` per kind of store (``factories("sqlite")``,
    ``factories("mongodb")``), made on first use in a directory of its own (``directory(kind)``;
    MongoDB at ``mongodb_url()``, asked for only then); ``close`` stops every server they
    started. The ``server_factories`` fixtures of tests/conftest.py hand these out."""

    def __init__(self, directory: Callable[[str], Path], mongodb_url: Callable[[], str]) -> None:
        self._directory = directory
        self._mongodb_url = mongodb_url
        self._made: dict[str, ServerFactory] = {}

    def __call__(self, kind: str) -> ServerFactory:
        if kind not in STORE_KINDS:
            raise ValueError(f"no store of kind {kind!r}; expected one of {STORE_KINDS}")
        if kind not in self._made:
            mongodb = self._mongodb_url() if kind == "mongodb" else None
            self._made[kind] = ServerFactory(self._directory(kind), mongodb)
        return self._made[kind]

    def close(self) -> None:
        for factory in self._made.values():
            factory.close()
