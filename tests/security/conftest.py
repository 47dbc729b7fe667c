"""Fixtures of the security suite: real ``graphql-repl serve`` processes (tests/servers.py),
fresh for each test module so that hostile traffic in one never hides in another. Who calls
them is in callers.py."""

from __future__ import annotations

import pytest
from servers import ServerFactories, ServerFactory  # tests/servers.py


@pytest.fixture(scope="module")
def factory(module_server_factories: ServerFactories) -> ServerFactory:
    """Servers on SQLite files of this module's own."""
    return module_server_factories("sqlite")
