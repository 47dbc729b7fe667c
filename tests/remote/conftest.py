"""Fixtures of the server-to-server suite: real servers, real ``graphql-repl replicate``.

Every server is a ``graphql-repl serve`` process on 127.0.0.1 with a store of its own, and
every replication runs the installed command in a process of its own, as a user would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import ServerFactory  # tests/servers.py (pytest puts tests/ on sys.path)

from .helpers import Servers, start_cli

Spawn = Callable[[list[str], str], tuple[subprocess.Popen[str], Path]]


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("remote-sqlite"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def mongodb_factory(
    tmp_path_factory: pytest.TempPathFactory, mongodb_url: str
) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("remote-mongodb"), mongodb_url)
    yield factory
    factory.close()


@pytest.fixture
def sqlite_servers(sqlite_factory: ServerFactory) -> Iterator[Servers]:
    """Servers on fresh SQLite stores, stopped after the test."""
    servers = Servers(sqlite_factory)
    yield servers
    servers.close()


@pytest.fixture(params=["sqlite", "mongodb"])
def any_servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """Servers on SQLite, then on MongoDB: the test runs once with each."""
    servers = Servers(request.getfixturevalue(f"{request.param}_factory"))
    yield servers
    servers.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """``spawn(args, name)``: start a command in the background (stdout to ``name``, stderr
    to ``name.err`` in the test's directory); returns it and its stderr file. Killed after
    the test if it is still running."""
    started: list[subprocess.Popen[str]] = []

    def run(args: list[str], name: str) -> tuple[subprocess.Popen[str], Path]:
        process, errors = start_cli(args, tmp_path / name)
        started.append(process)
        return process, errors

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
