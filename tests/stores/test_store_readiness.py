"""``Store.readiness``: None when the store can serve, else a one-line reason."""

from __future__ import annotations

from collections.abc import Iterator

import mongo_server  # tests/mongo_server.py (pytest puts tests/ on sys.path)
import pytest

from graphql_repl.stores import create_store

from .helpers import put, record
from .mongo import eventually


def _one_line(reason: str | None) -> bool:
    return isinstance(reason, str) and bool(reason.strip()) and "\n" not in reason


async def test_an_open_store_is_ready_and_a_closed_one_says_why(store):
    assert await store.readiness() is None
    await put(store, "Note", record("n1"))
    assert await store.readiness() is None

    await store.close()

    assert _one_line(await store.readiness())


@pytest.mark.backends("mongodb")
async def test_a_mongodb_standby_is_ready_while_a_holder_renews_the_lease(new_url, open_store):
    url = new_url()
    holder, standby = await open_store(url), await open_store(url)

    assert await holder.readiness() is None
    assert await standby.readiness() is None
    assert holder._running().lease.held()
    assert not standby._running().lease.held()


@pytest.mark.backends("mongodb")
async def test_a_mongodb_store_whose_sequencer_stopped_says_so(new_url, open_store):
    store = await open_store(new_url())
    assert await store.readiness() is None

    store._running()._task.cancel()
    await eventually(lambda: _stopped(store), "the sequencer stopped")

    reason = await store.readiness()
    assert _one_line(reason)
    assert "sequencer" in reason


async def _stopped(store):
    return store._running()._task.done()


class Restartable:
    """An emulator on a port of its own, for a test to stop and start again."""

    def __init__(self) -> None:
        self.server = mongo_server.start()
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/readiness?directConnection=true"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = mongo_server.start(port=self.port)


@pytest.fixture
def restartable() -> Iterator[Restartable]:
    try:
        emulator = Restartable()
    except mongo_server.MongoServerError as exc:
        pytest.skip(f"no emulator to stop and start: {exc}")
    mongo_server.lower_pymongo_min_wire_version()
    try:
        yield emulator
    finally:
        mongo_server.restore_pymongo_min_wire_version()
        emulator.stop()


async def test_readiness_reports_a_stopped_mongodb_and_clears_when_it_is_back(restartable):
    store = create_store(restartable.url)
    await store.open()
    try:
        await eventually(lambda: _ready(store), "ready at first")

        restartable.stop()
        reason = await store.readiness()

        assert _one_line(reason)
        # The emulator keeps its data in memory: it comes back empty, and the store's
        # sequencer starts the log afresh, as it would after losing its state.
        restartable.start()
        await eventually(lambda: _ready(store), "ready again")
    finally:
        await store.close()


async def _ready(store):
    return await store.readiness() is None
