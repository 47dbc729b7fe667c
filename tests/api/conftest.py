"""Shared fixtures of the API suite: real ``graphql-repl serve`` processes and real tokens.

Nothing here imports the server: every server is a separate OS process started with the
installed ``graphql-repl`` command, and every token comes from ``graphql-repl token create``.
The whole suite runs once per store: SQLite files, and databases on the session's MongoDB.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import mongo_server
import pytest

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
    assert token and " " not in token
    return token


@dataclass
class Server:
    """One running ``graphql-repl serve`` process."""

    store: str  # the store URL
    port: int
    process: subprocess.Popen[bytes]
    log: Path
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
    """Starts servers (each on a fresh port, by default on a fresh store: a SQLite file, or
    a database of its own on ``mongodb``) and stops every one it started at the end of the
    session."""

    def __init__(self, directory: Path, mongodb: str | None = None) -> None:
        self.directory = directory
        self.mongodb = mongodb
        self.servers: list[Server] = []

    def new_store(self) -> str:
        name = f"server{len(self.servers)}_{uuid.uuid4().hex[:10]}"
        if self.mongodb is None:
            return f"sqlite:///{self.directory / name}.db"
        return urlunsplit(urlsplit(self.mongodb)._replace(path=f"/{name}"))

    def start(self, store: str | None = None, env: dict[str, str] | None = None) -> Server:
        store = store or self.new_store()
        last_error = ""
        for _attempt in range(3):
            server = self._spawn(store, env)
            error = self._wait_healthy(server)
            if error is None:
                return server
            last_error = error
            server.stop()
            if "address already in use" not in server.log_text().lower():
                break
        pytest.fail(f"graphql-repl serve did not become healthy: {last_error}")

    def _spawn(self, store: str, env: dict[str, str] | None) -> Server:
        port = free_port()
        log = self.directory / f"server-{port}.log"
        process_env = {
            k: v
            for k, v in mongo_server.subprocess_env().items()
            if not k.startswith("GRAPHQL_REPL_")
        }
        process_env.update(env or {})
        with log.open("wb") as out:
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
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=process_env,
            )
        server = Server(store, port, process, log)
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

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session", params=["sqlite", "mongodb"])
def server_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    mongodb = request.getfixturevalue("mongodb_url") if request.param == "mongodb" else None
    factory = ServerFactory(tmp_path_factory.mktemp(f"servers-{request.param}"), mongodb)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def server(server_factory: ServerFactory) -> Server:
    """The shared server. Tests on it isolate themselves by checkpoints and unique ids."""
    return server_factory.start()


@pytest.fixture(scope="session")
def tokens(server: Server) -> dict[str, str]:
    """A token per role on the shared server, plus ``t1`` / ``t2``: replicator tokens
    bound to tenants t1 and t2."""
    made = {role: server.token(role) for role in ROLES}
    made["t1"] = server.token("replicator", "t1")
    made["t2"] = server.token("replicator", "t2")
    return made


@pytest.fixture
def check_server_alive(server: Server) -> Iterator[None]:
    yield
    assert server.alive(), f"the shared server died:\n{server.log_text()[-4000:]}"
