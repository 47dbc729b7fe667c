"""The sequencer: how the MongoDB store's change log gets its positions.

**Why the change log is correct without multi-document transactions.** A counter taken
before a write and stored with it leaves holes: writer A takes position 5, writer B takes 6
and commits first, a reader pages up to 6 and then A commits 5 behind it. So positions are
not taken by writers. A write stores its document with ``seq: null``; a *sequencer* reads
the collection's change stream, which delivers committed writes in commit order (the oplog
order of a replica set), and gives each new version the position of its change event (the
event's cluster time, ``(seconds << 32) | increment``, unique and increasing along the
stream), then raises the log's *watermark* to that position. Readers read only up to the
watermark. Every event at or below the watermark has been sequenced, and any version not
yet sequenced will get a position above it, so a reader never moves past a write it has not
seen. Positions come from the events themselves, so every server process can run a
sequencer on the same collection: they assign the same positions (conditionally, on the
document's version), and the watermark only moves forward (``$max``).

Checkpoints are positions in this store's own log (each document keeps the position of its
latest version), not in the oplog, so they never expire. The oplog matters only to the
sequencer: when it resumes after the oplog has moved past its resume point (the server was
down a long time), it sequences every version still without a position above the watermark,
so no reader misses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from bson import Timestamp
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from ...errors import StoreError
from .errors import driver_errors

log = logging.getLogger(__name__)

Row = dict[str, Any]
#: A version written by this process: its document's ``_id`` and its ``ver``.
Version = tuple[str, str]


def position(cluster_time: Timestamp) -> int:
    """A change event's cluster time (a BSON Timestamp) as a log position."""
    return (int(cluster_time.time) << 32) | int(cluster_time.inc)


async def watermark(meta: AsyncCollection[Row]) -> int:
    """The end of the log: every version at or below it has its position."""
    doc = await meta.find_one({"_id": "watermark"})
    return int(doc["pos"]) if doc else 0


async def _raise_watermark(meta: AsyncCollection[Row], pos: int) -> None:
    await meta.update_one({"_id": "watermark"}, {"$max": {"pos": pos}}, upsert=True)


def _positions_of(events: list[Row]) -> dict[Version, int]:
    """The versions our writes created, with the positions their events give them."""
    reached: dict[Version, int] = {}
    for event in events:
        # A replace is reported with its document in fullDocument (MongoDB) or in
        # documentKey (mongo-java-server, which calls it an update).
        written = event.get("fullDocument") or event.get("documentKey") or {}
        if "ver" in written and "model" in written:  # not our own sequencing updates
            # Were a version reported twice, its first position is the one stored (the
            # update of a later one finds ``seq`` already set).
            reached.setdefault((written["_id"], written["ver"]), position(event["clusterTime"]))
    return reached


class Sequencer:
    """This process's sequencer of one store's log, and the writes waiting for it."""

    #: Longest wait of a write for the sequencer to give it its position.
    timeout = 30.0
    #: Pause between change-stream polls when idle (the emulator has no server-side wait).
    idle_poll = 0.02
    idle_poll_max = 0.25

    def __init__(self, client: AsyncMongoClient[Row], db: AsyncDatabase[Row], batch: int) -> None:
        self._client = client
        self._docs, self._meta = db["documents"], db["meta"]
        self._db = db
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._advanced = asyncio.Event()
        # Set by this process's writes, so the sequencer looks at once rather than after
        # its idle pause.
        self._kick = asyncio.Event()
        # Positions yet to report, by the version written here.
        self._waiting: dict[Version, asyncio.Future[int]] = {}

    @property
    def advanced(self) -> asyncio.Event:
        """Set once the watermark has moved; a fresh one after each move."""
        return self._advanced

    async def start(self) -> None:
        """Start on first use of the change log (a store opened only for tokens, like
        `token create`, never watches the stream)."""
        if self._task is not None:
            return
        async with self._lock:
            if self._task is not None:
                return
            with driver_errors():
                stream = await self._open_stream()
            self._task = asyncio.create_task(self._run(stream), name="mongo-sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(StoreError("The store was closed"))
        self._waiting.clear()

    def expect(self, version: Version) -> asyncio.Future[int]:
        """The future position of a version about to be written (registered before it is
        written: the sequencer may reach it before the write returns)."""
        future = self._waiting[version] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, version: Version) -> None:
        """A version ``expect`` was told about was not written after all."""
        self._waiting.pop(version, None)

    def kick(self) -> None:
        """Something was written: look at the stream now."""
        self._kick.set()

    async def positions(self, waiters: Mapping[str, asyncio.Future[int]]) -> dict[str, int]:
        """The log positions of versions just written, once the sequencer reaches them."""
        if not waiters:
            return {}
        done, _ = await asyncio.wait(waiters.values(), timeout=self.timeout)
        if len(done) < len(waiters):
            given_up = set(waiters.values())
            for version in [v for v, w in self._waiting.items() if w in given_up]:
                del self._waiting[version]
            running = self._task is not None and not self._task.done()
            raise StoreError(
                "Writes were stored but the change log did not record them in time"
                + ("" if running else ": its sequencer stopped")
            )
        return {model_id: waiter.result() for model_id, waiter in waiters.items()}

    # -- the stream -----------------------------------------------------------------------

    async def _open_stream(self) -> AsyncChangeStream[Row]:
        """The documents collection's change stream, from where the sequencer stopped (or
        from now, after sequencing what no stream will report again)."""
        state = await self._meta.find_one({"_id": "sequencer"})
        if state is not None:
            try:
                return await self._docs.watch(resume_after=state["token"])
            except OperationFailure as exc:
                # ChangeStreamHistoryLost (286) and kin: the oplog no longer reaches back.
                log.warning("Cannot resume the change stream (%s); sequencing afresh", exc)
        start = await self._now()
        stream = await self._docs.watch(start_at_operation_time=start)
        await self._sequence_unsequenced(position(start))
        return stream

    async def _now(self) -> Timestamp:
        """The current cluster time: from a reply's ``operationTime`` on a real server, from
        the last oplog entry on servers that send none (mongo-java-server)."""
        reply = await self._db.command("ping")
        if "operationTime" in reply:
            now: Timestamp = reply["operationTime"]
            return now
        last = await self._client["local"]["oplog.rs"].find_one({}, sort=[("$natural", -1)])
        return Timestamp(last["ts"].time, last["ts"].inc + 1) if last else Timestamp(0, 1)

    async def _sequence_unsequenced(self, start: int) -> None:
        """Give every version still without a position one above the watermark (and below
        ``start``, where the new stream begins)."""
        cursor = self._docs.find({"seq": None}, {"_id": 1, "ver": 1}).sort("_id")
        pending = [doc async for doc in cursor]
        if not pending:
            return
        first = max(await watermark(self._meta) + 1, start - len(pending))
        for offset, doc in enumerate(pending):
            await self._docs.update_one(
                {"_id": doc["_id"], "ver": doc["ver"], "seq": None},
                {"$set": {"seq": first + offset}},
            )
        await _raise_watermark(self._meta, first + len(pending) - 1)

    async def _run(self, stream: AsyncChangeStream[Row]) -> None:
        idle = self.idle_poll
        while True:
            try:
                self._kick.clear()
                events = await self._read_batch(stream)
                if not events:
                    idle = await self._pause(idle)
                    continue
                idle = self.idle_poll
                reached = await self._assign(events)
                await self._meta.update_one(
                    {"_id": "sequencer"}, {"$set": {"token": events[-1]["_id"]}}, upsert=True
                )
                self._notify(reached)
            except asyncio.CancelledError:
                await stream.close()
                raise
            except PyMongoError:
                log.exception("The change stream failed; resuming")
                await asyncio.sleep(1.0)
                with contextlib.suppress(PyMongoError):
                    await stream.close()
                    stream = await self._open_stream()

    async def _read_batch(self, stream: AsyncChangeStream[Row]) -> list[Row]:
        """The events the stream has now, at most one batch of them."""
        events: list[Row] = []
        while len(events) < self._batch:
            event = await stream.try_next()
            if event is None:
                break
            events.append(event)
        return events

    async def _pause(self, idle: float) -> float:
        """Wait up to ``idle`` seconds for a local write; returns the next pause. A server
        that answers at once when there is nothing (the emulator does; MongoDB waits
        server-side) would otherwise be polled hot."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event is set, and close() would then wait for this task forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(idle):
                await self._kick.wait()
        # Poll briskly right after a local write, ever slower while idle.
        return self.idle_poll if self._kick.is_set() else min(idle * 2, self.idle_poll_max)

    async def _assign(self, events: list[Row]) -> dict[Version, int]:
        """Give the versions of ``events`` their positions and raise the watermark past
        them; returns the positions."""
        reached = _positions_of(events)
        if reached:
            await self._docs.bulk_write(
                [
                    UpdateOne({"_id": key, "ver": ver, "seq": None}, {"$set": {"seq": pos}})
                    for (key, ver), pos in reached.items()
                ],
                ordered=True,
            )
            # Only our writes move the log's end.
            await _raise_watermark(self._meta, max(reached.values()))
        return reached

    def _notify(self, reached: Mapping[Version, int]) -> None:
        """Wake the readers waiting for the log to move, and the writers of ``reached``."""
        self._advanced.set()
        self._advanced = asyncio.Event()
        for version, pos in reached.items():
            waiter = self._waiting.pop(version, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(pos)
