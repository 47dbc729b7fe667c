"""Shared fixtures of the API suite: real ``graphql-repl serve`` processes and real tokens.

Nothing here imports the server: every server is a separate OS process started with the
installed ``graphql-repl`` command, and every token comes from ``graphql-repl token create``
(both from ``tests/servers.py``). The whole suite runs once per store: SQLite files, and
databases on the session's MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ROLES, Server, ServerFactories, ServerFactory  # tests/servers.py
from store_urls import STORE_KINDS  # tests/store_urls.py


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
