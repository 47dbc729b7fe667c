"""Fixtures of the server-to-server suite: real servers, real ``graphql-repl replicate``.

Every server is a ``graphql-repl serve`` process on 127.0.0.1 with a store of its own, and
every replication runs the installed command in a process of its own, as a user would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerFactories, ServerFactory  # tests/servers.py

from .helpers import Servers, Spawn, start_cli


@pytest.fixture(scope="session")
def sqlite_factory(server_factories: ServerFactories) -> ServerFactory:
    return server_factories("sqlite")


@pytest.fixture(scope="session")
def mongodb_factory(server_factories: ServerFactories) -> ServerFactory:
    return server_factories("mongodb")


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
