"""Shared fixtures of the API suite: real ``graphql-repl serve`` processes and real tokens.

Nothing here imports the server: every server is a separate OS process started with the
installed ``graphql-repl`` command, and every token comes from ``graphql-repl token create``
(both from ``tests/servers.py``). The whole suite runs once per store: SQLite files, and
databases on the session's MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import (  # tests/servers.py (pytest puts tests/ on sys.path)
    ROLES,
    Server,
    ServerFactory,
    create_token,
    free_port,
    graphql_repl_command,
)

__all__ = ["Server", "ServerFactory", "create_token", "free_port", "graphql_repl_command"]


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
