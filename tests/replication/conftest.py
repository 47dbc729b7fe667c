from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from store_urls import new_store_url  # tests/store_urls.py (pytest puts tests/ on sys.path)

from graphql_repl import Registry, Repository, Settings, demo_registry
from graphql_repl.replication import HybridLogicalClock

from .helpers import Wall

OpenReplicas = Callable[..., Awaitable[list[Repository]]]


@pytest.fixture
def wall() -> Wall:
    """The wall clock of the test's replicas: it moves only when the test ticks it."""
    return Wall()


@pytest.fixture(params=["sqlite", "mongodb"])
async def open_replicas(request, tmp_path, wall: Wall) -> AsyncIterator[OpenReplicas]:
    """A factory: ``await open_replicas(n, registry=None, settings=None)`` opens ``n``
    independent replicas, each a ``Repository`` over a store of its own with a clock on the
    test's ``wall`` (every test runs on SQLite and on MongoDB; the demo registry unless
    another is given). All are closed at teardown."""
    opened: list[Repository] = []
    mongodb = request.getfixturevalue("mongodb_url") if request.param == "mongodb" else None

    async def open_(
        n: int = 2, registry: Registry | None = None, settings: Settings | None = None
    ) -> list[Repository]:
        out = []
        for _ in range(n):
            url = new_store_url(request.param, tmp_path, f"replica{len(opened)}", mongodb)
            repo_settings = dataclasses.replace(settings or Settings(), store=url)
            clock = HybridLogicalClock(wall=wall)
            repo = Repository.from_settings(repo_settings, registry or demo_registry(), clock=clock)
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
