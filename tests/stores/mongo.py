"""Helpers of the MongoDB-only store tests: databases of their own, documents written
straight in the store's layout, and a recorded change stream to give a sequencer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bson import Timestamp
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from graphql_repl.stores.mongodb import MongoStore
from graphql_repl.stores.mongodb.lease import Lease, identity
from graphql_repl.stores.mongodb.sequencer import Sequencer
from graphql_repl.stores.mongodb.state import STATE_ID, read_state

Row = dict[str, Any]


def client_of(url: str) -> AsyncMongoClient[Row]:
    return AsyncMongoClient(url, tz_aware=True)


def database_of(client: AsyncMongoClient[Row], url: str) -> Any:
    return client[urlsplit(url).path.lstrip("/")]


def stored(model: str, model_id: str, ver: str, seq: int | None = None, **data: Any) -> Row:
    """A document in the store's layout (as ``store._Version`` writes it)."""
    return {
        "_id": f"{model}\x00{model_id}",
        "model": model,
        "id": model_id,
        "ver": ver,
        "seq": seq,
        "rev": f"{model_id}@{ver}",
        "prev": None,
        "data": {"id": model_id, **data},
        "clock": {},
        "ancestors": [],
        "bases": {},
    }


def event(document: Row, at: Timestamp, n: int) -> Row:
    """The change event of writing ``document`` at cluster time ``at`` (``n``: its place
    in the recording, which makes its resume token)."""
    return {
        "_id": {"_data": f"{at.time:08x}{at.inc:08x}{n:08x}"},
        "operationType": "insert",
        "clusterTime": at,
        "fullDocument": document,
        "documentKey": {"_id": document["_id"]},
    }


class Recording:
    """Change events, appended by a test, that ``RecordedStreams`` play."""

    def __init__(self, now: Timestamp) -> None:
        self.events: list[Row] = []
        self.now = now

    def add(self, document: Row, at: Timestamp) -> None:
        self.events.append(event(document, at, len(self.events)))


class RecordedSource:
    """A ``Source`` playing a recording from ``position``. With ``docs``, it also reports
    writes of the sequencer's state, as MongoDB's stream would (after what it read)."""

    def __init__(
        self, recording: Recording, position: int, docs: AsyncCollection[Row] | None
    ) -> None:
        self._recording = recording
        self._position = position
        self._docs = docs
        self._beat = -1
        self.resume_token: Mapping[str, Any] | None = None

    async def batch(self, limit: int) -> list[Row]:
        events = self._recording.events[self._position : self._position + limit]
        self._position += len(events)
        if events:
            self.resume_token = events[-1]["_id"]
        if self._docs is not None and len(events) < limit:
            state = await self._docs.find_one({"_id": STATE_ID})
            if state is not None and state["beat"] != self._beat:
                self._beat = state["beat"]
                events = [*events, {"operationType": "replace", "fullDocument": state}]
        return events

    async def close(self) -> None:
        pass


class RecordedStreams:
    """``Streams`` that play a recording instead of the server's change stream."""

    def __init__(self, recording: Recording, docs: AsyncCollection[Row] | None = None) -> None:
        self._recording = recording
        self._docs = docs

    async def open(
        self, resume_after: Mapping[str, Any] | None = None, start_at: Timestamp | None = None
    ) -> RecordedSource:
        events = self._recording.events
        if resume_after is not None:
            ids = [e["_id"] for e in events]
            if resume_after not in ids:
                raise OperationFailure("resume point not in the recording", code=286)
            position = ids.index(resume_after) + 1
        else:
            assert start_at is not None
            position = next(
                (i for i, e in enumerate(events) if e["clusterTime"] >= start_at), len(events)
            )
        return RecordedSource(self._recording, position, self._docs)

    async def now(self) -> Timestamp:
        return self._recording.now


def recorded_sequencer(
    store: MongoStore,
    recording: Recording,
    states: bool = False,
    ttl: float | None = None,
    routed: bool = False,
) -> Sequencer:
    """Give ``store`` (open, its log not used yet) a sequencer that plays ``recording``
    (``routed``: one that writes as it does through mongos)."""
    docs = store._collection("documents")
    lease = Lease(identity())
    if ttl is not None:
        lease.ttl = ttl
    streams = RecordedStreams(recording, docs if states else None)
    store._sequencer = Sequencer(docs, streams, lease, store.watch_page, routed)
    return store._sequencer


#: How long ``eventually`` waits: generous, for a loaded machine.
PATIENCE = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str = "the condition") -> float:
    """Wait until ``check()`` is true (up to ``PATIENCE`` seconds); returns how long that
    took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > PATIENCE:
            raise AssertionError(f"{what} did not hold within {PATIENCE:g} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def holder(store: MongoStore) -> str | None:
    state = await read_state(store._collection("documents"))
    return None if state is None else state.holder
