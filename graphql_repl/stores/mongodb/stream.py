"""The change stream the sequencer follows, behind the few members it uses (``Streams``
opens one, ``Source`` is one), so that tests can give it a recorded stream instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bson import Timestamp
from pymongo import AsyncMongoClient
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection

Row = dict[str, Any]

#: The events the sequencer needs: versions written (inserts and replaces) and the state's
#: writes (replaces). MongoDB reports its own ``$set`` of positions as updates, dropped
#: here. mongo-java-server reports every replace as an update, without an
#: ``updateDescription`` and with the document in ``documentKey``; its ``$set`` updates have
#: the update itself there, without an ``_id``.
PIPELINE: list[Row] = [
    {
        "$match": {
            "$or": [
                {"operationType": {"$in": ["insert", "replace"]}},
                {
                    "operationType": "update",
                    "updateDescription": {"$exists": False},
                    "documentKey._id": {"$exists": True},
                },
            ]
        }
    }
]

#: How long the server holds an empty poll (MongoDB's default is 1 s): it bounds how late
#: an idle holder renews its lease.
MAX_AWAIT_MS = 500


class Source(Protocol):
    """An open change stream."""

    @property
    def resume_token(self) -> Mapping[str, Any] | None:
        """Where the stream continues: after the last event read."""

    async def batch(self, limit: int) -> list[Row]:
        """The events available now, at most ``limit``, with at most one round trip (empty
        when there are none)."""

    async def close(self) -> None: ...


class Streams(Protocol):
    """Opens change streams of the documents collection."""

    async def open(
        self, resume_after: Mapping[str, Any] | None = None, start_at: Timestamp | None = None
    ) -> Source:
        """A stream after the event of ``resume_after``, or from cluster time ``start_at``
        (inclusive). Raises ``OperationFailure`` when the server cannot resume there."""

    async def now(self) -> Timestamp:
        """The current cluster time."""


class ChangeStream:
    """A PyMongo change stream as a ``Source``."""

    def __init__(self, stream: AsyncChangeStream[Row]) -> None:
        self._stream = stream

    @property
    def resume_token(self) -> Mapping[str, Any] | None:
        return self._stream.resume_token

    async def batch(self, limit: int) -> list[Row]:
        events: list[Row] = []
        # Only the first poll may go to the server, which waits there (MAX_AWAIT_MS) for
        # events; the rest of what it sent is taken from the cursor. Polling again would
        # hold the events already received until the server's wait runs out.
        event = await self._stream.try_next()
        while event is not None:
            events.append(event)
            if len(events) >= limit or not self._received():
                break
            event = await self._stream.try_next()
        return events

    def _received(self) -> bool:
        """Whether events already received wait in the cursor. PyMongo has no public way to
        ask; ``tests/stores/test_mongo_stream.py`` fails first if this one goes."""
        return bool(self._stream._cursor._has_next())

    async def close(self) -> None:
        await self._stream.close()


class ChangeStreams:
    """The change streams of a documents collection on a MongoDB server."""

    def __init__(self, client: AsyncMongoClient[Row], docs: AsyncCollection[Row]) -> None:
        self._client = client
        self._docs = docs

    async def open(
        self, resume_after: Mapping[str, Any] | None = None, start_at: Timestamp | None = None
    ) -> Source:
        stream = await self._docs.watch(
            PIPELINE,
            resume_after=resume_after,
            start_at_operation_time=None if resume_after is not None else start_at,
            max_await_time_ms=MAX_AWAIT_MS,
        )
        return ChangeStream(stream)

    async def now(self) -> Timestamp:
        """From a reply's ``operationTime`` on a real server; from the last oplog entry on
        servers that send none (mongo-java-server)."""
        reply = await self._docs.database.command("ping")
        if "operationTime" in reply:
            now: Timestamp = reply["operationTime"]
            return now
        oplog = self._client["local"]["oplog.rs"]
        last = await oplog.find_one({}, sort=[("$natural", -1)])
        return Timestamp(last["ts"].time, last["ts"].inc + 1) if last else Timestamp(0, 1)
