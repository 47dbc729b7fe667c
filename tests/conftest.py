"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import mongo_server  # tests/mongo_server.py (pytest puts tests/ on sys.path)
import pytest


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
