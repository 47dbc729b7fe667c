"""Shared fixtures of the API suite: real ``graphql-repl serve`` processes and real tokens,
and the schema in process for tests of API logic.

The servers are separate OS processes started with the installed ``graphql-repl`` command,
and their tokens come from ``graphql-repl token create`` (both from ``tests/servers.py``).
``local`` is the schema executed in this process over a real repository and real tokens
(``in_process.py``). The whole suite runs once per store: SQLite files, and databases on the
session's MongoDB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from servers import ROLES, Server, ServerFactories, ServerFactory  # tests/servers.py
from store_urls import STORE_KINDS  # tests/store_urls.py

from .in_process import LocalServer, LocalServers


@pytest.fixture(scope="session", params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The kind of store the suite runs on: every test that uses a server runs once on
    each."""
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def server_factory(server_factories: ServerFactories, store_kind: str) -> ServerFactory:
    """The session's servers on stores of ``store_kind``."""
    return server_factories(store_kind)


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


@pytest.fixture
async def local_servers(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[LocalServers]:
    """``await local_servers.start(env)``: the schema in process on a new store of
    ``store_kind``, with the settings of the ``GRAPHQL_REPL_*`` variables ``env``; closed
    after the test."""
    made = LocalServers(store_kind, tmp_path, lambda: str(request.getfixturevalue("mongodb_url")))
    yield made
    await made.close()


@pytest.fixture
async def local(local_servers: LocalServers) -> LocalServer:
    """The schema in process with the default settings, on a store of the test's own."""
    return await local_servers.start()
