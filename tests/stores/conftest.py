"""The store conformance suite runs every test against each backend listed in ``BACKENDS``.

To add a backend (MongoDB, say), append a ``Backend`` whose ``url`` returns the URL of a new,
empty store for one test; give it ``drop`` if its data outlives the test (a database on a
server), and ``snapshot`` if its data can be copied, which the tests of restoring an older
copy of a store need.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from graphql_repl import Repository
from graphql_repl.stores import Store, create_store

from .helpers import REGISTRY


@dataclass(frozen=True)
class Backend:
    name: str
    # The URL of a new, empty store; ``directory`` is a fresh directory it may use, and
    # ``fixture`` gives the value of a (session) fixture such as ``mongodb_url``.
    url: Callable[[Path, Callable[[str], Any]], str]
    # A store opened again at the same URL has the same data (and store_id).
    persistent: bool
    # Copy the data of the (closed) store at a URL, into ``directory``; returns the copy's URL.
    snapshot: Callable[[str, Path], str] | None = None
    # Remove the data of the store at a URL, after the test.
    drop: Callable[[str], Awaitable[None]] | None = None


def _sqlite_file_url(directory: Path, fixture: Callable[[str], Any]) -> str:
    return f"sqlite:///{directory / 'store.db'}"


def _sqlite_file_snapshot(url: str, directory: Path) -> str:
    source = Path(url.removeprefix("sqlite:///"))
    target = directory / source.name
    for suffix in ("", "-wal", "-shm"):  # a closed WAL database has no -wal, but be safe
        part = source.with_name(source.name + suffix)
        if part.exists():
            shutil.copy(part, target.with_name(target.name + suffix))
    return f"sqlite:///{target}"


def _mongodb_url(directory: Path, fixture: Callable[[str], Any]) -> str:
    """A database of its own on the session's MongoDB (real, or the emulator)."""
    parts = urlsplit(fixture("mongodb_url"))
    return urlunsplit(parts._replace(path=f"/t_{uuid.uuid4().hex[:12]}"))


async def _mongodb_drop(url: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    try:
        await client.drop_database(urlsplit(url).path.lstrip("/"))
    finally:
        await client.close()


BACKENDS = [
    Backend("sqlite-file", _sqlite_file_url, persistent=True, snapshot=_sqlite_file_snapshot),
    Backend("sqlite-memory", lambda _directory, _fixture: "sqlite:///:memory:", persistent=False),
    Backend("mongodb", _mongodb_url, persistent=True, drop=_mongodb_drop),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*capabilities): run only on the backends that have these Backend attributes"
        " set (e.g. 'persistent', 'snapshot')",
    )
    config.addinivalue_line(
        "markers", "backends(*names): run only on the backends of these names (e.g. 'mongodb')"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``backend`` over ``BACKENDS``, keeping those the ``requires`` and
    ``backends`` marks ask for."""
    if "backend" not in metafunc.fixturenames:
        return
    needs = [cap for mark in metafunc.definition.iter_markers("requires") for cap in mark.args]
    names = {name for mark in metafunc.definition.iter_markers("backends") for name in mark.args}
    chosen = [
        b
        for b in BACKENDS
        if all(getattr(b, cap) for cap in needs) and (not names or b.name in names)
    ]
    metafunc.parametrize("backend", chosen, ids=[b.name for b in chosen])


NewUrl = Callable[[], str]
OpenStore = Callable[[str], Awaitable[Store]]


@pytest.fixture
async def new_url(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[NewUrl]:
    """A factory of URLs of new, empty stores of the test's backend."""
    urls: list[str] = []

    def make() -> str:
        directory = tmp_path / f"store-{len(urls)}"
        directory.mkdir()
        urls.append(backend.url(directory, request.getfixturevalue))
        return urls[-1]

    yield make
    if backend.drop is not None:
        for url in urls:
            await backend.drop(url)


@pytest.fixture
async def open_store(new_url: NewUrl) -> AsyncIterator[OpenStore]:
    """A factory: ``await open_store(url)`` opens a store; every store it opened is closed
    at teardown (closing an already closed store must be harmless), before ``new_url``
    drops their data."""
    opened: list[Store] = []

    async def open_(url: str) -> Store:
        store = create_store(url)
        await store.open()
        opened.append(store)
        return store

    yield open_
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(backend: Backend, new_url: NewUrl, open_store: OpenStore) -> Store:
    """An open, empty store of each backend."""
    return await open_store(new_url())


@pytest.fixture
def repo(store: Store) -> Repository:
    """A repository of the test models (the demo models and ``Item``) over ``store``."""
    return Repository(store, REGISTRY)
