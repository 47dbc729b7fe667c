"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import mongo_server  # tests/mongo_server.py (pytest puts tests/ on sys.path)
import pytest
from servers import ServerFactories  # tests/servers.py


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """The URL of a MongoDB for the tests: ``$MONGODB_URL`` when set (a real server; for
    change streams and transactions a replica set), else a mongo-java-server emulator with
    its oplog enabled, started for this test session on a free 127.0.0.1 port and stopped at
    its end. With the emulator, PyMongo's minimum wire version is lowered in this process
    for the session; Python subprocesses that use it need ``mongo_server.subprocess_env()``.
    Tests share the server: each should use a database (or collection) of its own."""
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    with mongo_server.emulator() as url:
        yield url


def _server_factories(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[ServerFactories]:
    made = ServerFactories(
        lambda kind: tmp_path_factory.mktemp(f"{label}-{kind}"),
        # Asked for only when a MongoDB server is wanted: SQLite-only runs start no MongoDB.
        lambda: str(request.getfixturevalue("mongodb_url")),
    )
    yield made
    made.close()


@pytest.fixture(scope="session")
def server_factories(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactories]:
    """``server_factories(kind)``: the session's ``ServerFactory`` for stores of ``kind``
    (``sqlite`` or ``mongodb``): real ``graphql-repl serve`` processes, each on a fresh
    port and by default a fresh store, all stopped at the end of the session."""
    yield from _server_factories(request, tmp_path_factory, "servers")


@pytest.fixture(scope="module")
def module_server_factories(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactories]:
    """Like ``server_factories``, for one test module: the servers it starts are its own
    and are stopped at the end of the module."""
    yield from _server_factories(request, tmp_path_factory, request.module.__name__)
