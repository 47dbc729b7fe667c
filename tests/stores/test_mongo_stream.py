"""The change stream as the sequencer reads it: what the server sent, in one round trip,
and only the events it needs."""

from __future__ import annotations

import contextlib
import threading

import pytest
from pymongo import AsyncMongoClient, monitoring

from graphql_repl.stores.mongodb.positions import Version, assignment, version_of
from graphql_repl.stores.mongodb.state import LogState, create_state, state_of
from graphql_repl.stores.mongodb.stream import ChangeStreams

from .mongo import database_of, stored

pytestmark = pytest.mark.backends("mongodb")


class GetMores(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "getMore":
            with self._lock:
                self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.asynccontextmanager
async def _opened(url, listener=None):
    """The documents collection and a stream of it from now."""
    client = AsyncMongoClient(url, event_listeners=[listener] if listener else [])
    docs = database_of(client, url)["documents"]
    streams = ChangeStreams(client, docs)
    source = await streams.open(start_at=await streams.now())
    try:
        yield docs, source
    finally:
        await source.close()
        await client.close()


async def test_a_batch_is_what_one_poll_brought(new_url):
    listener = GetMores()
    async with _opened(new_url(), listener) as (docs, source):
        await docs.insert_many([stored("Note", f"n{i}", "v1") for i in range(5)])
        before = listener.count

        events = []
        while not events:
            events = await source.batch(100)

        # Waiting for more with another poll would hold these back (MongoDB waits
        # server-side); PyMongo has no public way to see what it holds, which is why the
        # stream uses its cursor's own (this fails first when that goes).
        assert [version_of(e).key for e in events] == [f"Note\x00n{i}" for i in range(5)]
        assert listener.count - before == 1
        assert await source.batch(100) == []


async def test_a_batch_stops_at_its_limit_and_the_next_goes_on(new_url):
    async with _opened(new_url()) as (docs, source):
        await docs.insert_many([stored("Note", f"n{i}", "v1") for i in range(5)])
        seen = []
        while len(seen) < 5:
            batch = await source.batch(2)
            assert len(batch) <= 2
            seen += [version_of(e).key.partition("\x00")[2] for e in batch]
        assert seen == [f"n{i}" for i in range(5)]


async def test_the_stream_brings_versions_and_states_but_not_positions_set(new_url):
    async with _opened(new_url()) as (docs, source):
        await docs.insert_one(stored("Note", "n1", "v1"))
        await docs.bulk_write([assignment(Version("Note\x00n1", "v1"), 7)])
        await create_state(docs, LogState(pos=7))
        await docs.replace_one({"_id": "Note\x00n1"}, stored("Note", "n1", "v2"))

        events = []
        while len(events) < 3:
            events += await source.batch(10)

        assert [version_of(e) for e in events] == [
            Version("Note\x00n1", "v1"),
            None,
            Version("Note\x00n1", "v2"),
        ]
        assert state_of(events[1]) == LogState(pos=7)
        assert await source.batch(10) == []
