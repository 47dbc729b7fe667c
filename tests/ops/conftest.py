"""Fixtures of the operations suite: real ``graphql-repl serve`` processes (from
``tests/servers.py``), read through their logs, /metrics and /ready."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ServerFactory  # tests/servers.py (pytest puts tests/ on sys.path)


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Servers on SQLite stores of their own, stopped at the end of the module."""
    made = ServerFactory(tmp_path_factory.mktemp("ops"))
    yield made
    made.close()
