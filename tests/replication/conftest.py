from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from graphql_repl import Registry, Repository, Settings, demo_registry

OpenReplicas = Callable[..., Awaitable[list[Repository]]]


def store_url(kind: str, directory: Path, request: pytest.FixtureRequest, name: str) -> str:
    """The URL of a new, empty store of ``kind``: a SQLite file in ``directory``, or a
    database of its own on the session's MongoDB."""
    if kind == "sqlite":
        return f"sqlite:///{directory / name}.db"
    parts = urlsplit(request.getfixturevalue("mongodb_url"))
    return urlunsplit(parts._replace(path=f"/{name}_{uuid.uuid4().hex[:10]}"))


@pytest.fixture(params=["sqlite", "mongodb"])
async def open_replicas(request, tmp_path) -> AsyncIterator[OpenReplicas]:
    """A factory: ``await open_replicas(n, registry=None, settings=None)`` opens ``n``
    independent replicas, each a ``Repository`` over a store of its own (every test runs
    on SQLite and on MongoDB; the demo registry unless another is given). All are closed at
    teardown."""
    opened: list[Repository] = []

    async def open_(
        n: int = 2, registry: Registry | None = None, settings: Settings | None = None
    ) -> list[Repository]:
        out = []
        for _ in range(n):
            url = store_url(request.param, tmp_path, request, f"replica{len(opened)}")
            repo_settings = dataclasses.replace(settings or Settings(), store=url)
            repo = Repository.from_settings(repo_settings, registry or demo_registry())
            await repo.open()
            opened.append(repo)
            out.append(repo)
        return out

    yield open_
    for repo in opened:
        await repo.close()


@pytest.fixture
async def pair(open_replicas: OpenReplicas) -> list[Repository]:
    """Two demo replicas."""
    return await open_replicas(2)


@pytest.fixture
async def trio(open_replicas: OpenReplicas) -> list[Repository]:
    """Three demo replicas."""
    return await open_replicas(3)
