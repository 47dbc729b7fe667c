"""Fixtures of the web client suite: ``npm ci`` once, and real ``graphql-repl serve``
processes (tests/servers.py) shared by a module's tests, which keep apart by fresh ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import Server, ServerFactory  # tests/servers.py (pytest puts tests/ on sys.path)

from .node import install


@pytest.fixture(scope="session")
def node() -> str:
    """``node``, with tests/js/web's packages installed from its lockfile."""
    return install()


@pytest.fixture(scope="session")
def sqlite_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("web-clients-sqlite"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def mongodb_servers(
    mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("web-clients-mongodb"), mongodb_url)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def servers(sqlite_servers: ServerFactory) -> ServerFactory:
    """Where a module's server runs: SQLite (a module can parametrize it over stores)."""
    return sqlite_servers


@pytest.fixture(scope="module")
def server(servers: ServerFactory) -> Iterator[Server]:
    """A server on a store of its own, for one test module."""
    server = servers.start()
    yield server
    assert server.alive(), f"the server died:\n{server.log_text()[-4000:]}"
    servers.close([server])
