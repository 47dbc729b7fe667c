from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from graphql_repl import Registry, Repository, Settings, demo_registry

OpenReplicas = Callable[..., Awaitable[list[Repository]]]


@pytest.fixture
async def open_replicas(tmp_path) -> AsyncIterator[OpenReplicas]:
    """A factory: ``await open_replicas(n, registry=None, settings=None)`` opens ``n``
    independent replicas, each a ``Repository`` over its own SQLite file (the demo
    registry unless another is given). All are closed at teardown."""
    opened: list[Repository] = []

    async def open_(
        n: int = 2, registry: Registry | None = None, settings: Settings | None = None
    ) -> list[Repository]:
        out = []
        for _ in range(n):
            path = tmp_path / f"replica-{len(opened)}.db"
            repo_settings = dataclasses.replace(settings or Settings(), store=f"sqlite:///{path}")
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
