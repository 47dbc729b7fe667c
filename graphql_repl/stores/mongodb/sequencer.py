"""The sequencer: how the MongoDB store's change log gets its positions.

**Why the change log is correct without multi-document transactions.** A counter taken
before a write and stored with it leaves holes: writer A takes position 5, writer B takes 6
and commits first, a reader pages up to 6 and then A commits 5 behind it. So positions are
not taken by writers. A write stores its document with ``seq: null``; a *sequencer* reads
the collection's change stream, which delivers committed writes in commit order (the oplog
order of a replica set; cluster time, then document key, through mongos), gives each new
version its position (its place in the stream: ``positions``), then raises the log's
*watermark* past them. Readers read only up to the watermark. Every version at or below it
has its position, and any version not yet sequenced will get one above it, so a reader
never moves past a write it has not seen.

**One sequencer per store.** Every server process follows the stream, but only the holder
of the lease (``lease``) writes: the positions of a batch and the state that covers them
(``state``: watermark, resume point, lease) go in one ordered bulk write, the state last
and fenced on the holder's term. The others count the same positions from the same events
and report their own writes' positions once the holder's state, which reaches them through
the same stream, covers them. When the holder stops writing the state, a standby takes over
within ``Lease.ttl`` and goes on from its own place in the stream: events the old holder
read but did not cover get the positions it would have given them.

**Recovery.** A state without a resume point (a new store, one migrated from schema 1, a
state that was lost) or a stream that cannot resume (the oplog has moved past its resume
point after a long outage) makes the holder start a new epoch: it opens the stream at the
current cluster time, gives every version still without a position one above every
position given so far (leaving room for one batch of a holder that lost its lease), and
counts on from there. Checkpoints are positions in this store's own log (each document
keeps the position of its latest version), not in the oplog, so they never expire.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

from ... import tasks
from .errors import driver_errors
from .lease import Lease
from .positions import Version, assignment, count, highest_position, unsequenced
from .state import STATE_KEY, LogState, create_state, fence, read_state, state_of
from .stream import Source, Streams
from .waiters import Waiters

log = logging.getLogger(__name__)

Row = dict[str, Any]


class Sequencer:
    """This process's part in sequencing one store's log: following the stream, writing
    positions while it holds the lease, and the writes waiting for their positions."""

    #: Pause between polls of a stream that answers at once when idle (the emulator; MongoDB
    #: waits server-side), right after a write and at most.
    idle_poll = 0.02
    idle_poll_max = 0.25
    #: Pause before reconnecting after the stream or the server failed.
    retry_pause = 1.0

    def __init__(
        self,
        docs: AsyncCollection[Row],
        streams: Streams,
        lease: Lease,
        batch: int,
        routed: bool = False,
    ) -> None:
        self._docs = docs
        self._streams = streams
        self.lease = lease
        self._batch = batch
        # Through mongos, an ordered bulk write goes shard after shard, a round trip per
        # change of shard: there positions are written unordered, then the state.
        self._routed = routed
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._advanced = asyncio.Event()
        # Set by this process's writes, so that an idle poll looks at once.
        self._kick = asyncio.Event()
        self.waiters = Waiters()
        # This process's place in the log: the stream it reads, the newest state it has
        # seen, the epoch and position it counts in, where its stream continues, the
        # positions it has read above the watermark, and the watermark.
        self._source: Source | None = None
        self._state = LogState()
        self._epoch: str | None = None
        self._last = 0
        self._resume: Mapping[str, Any] | None = None
        self._ahead: list[tuple[Version, int]] = []
        self._watermark = 0

    @property
    def advanced(self) -> asyncio.Event:
        """Set once the watermark has moved; a fresh one after each move."""
        return self._advanced

    async def start(self) -> None:
        """Start on first use of the change log (a store opened only for tokens, like
        `token create`, never follows the stream)."""
        if self._task is not None:
            return
        async with self._lock:
            if self._task is not None:
                return
            await self._disconnect()  # what an interrupted start left open
            with driver_errors():
                await self._connect()
            self._task = asyncio.create_task(self._run(), name="mongo-sequencer")

    async def stop(self) -> None:
        """Stop, handing the lease on (so that a standby need not wait for it to expire)."""
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None
        if self.lease.held():
            with contextlib.suppress(PyMongoError, TimeoutError):
                async with asyncio.timeout(self.lease.renew_every):
                    await self._docs.replace_one(
                        fence(self._state), self._state.next(holder=None, expires=None).row()
                    )
            self.lease.lost()
        await self._disconnect()
        self.waiters.fail("The store was closed")

    def status(self) -> str | None:
        """None while the log is being sequenced, else a one-line reason."""
        if self._task is None or self._task.done():
            return "The change log's sequencer is not running"
        return self.lease.status(self._state, time.monotonic())

    def gauges(self) -> dict[str, float]:
        """The sequencer's lag, for the metrics: this process's writes still waiting for
        their positions, the seconds since the holder was last seen writing the state, and
        whether this process holds the lease."""
        return {
            "sequencer_unsequenced_writes": float(len(self.waiters)),
            "sequencer_seconds_behind": self.lease.quiet_for(time.monotonic()),
            "sequencer_lease_held": 1.0 if self.lease.held() else 0.0,
        }

    def kick(self) -> None:
        """Something was written: look at the stream now."""
        self._kick.set()

    async def positions(self, waiters: Mapping[str, asyncio.Future[int]]) -> dict[str, int]:
        """The log positions of versions just written, once the watermark covers them."""
        stopped = self._task is None or self._task.done()
        return await self.waiters.wait(waiters, stopped)

    # -- following the stream -------------------------------------------------------------

    async def _run(self) -> None:
        idle = self.idle_poll
        while True:
            try:
                if self._source is None and not await self._connect():
                    await asyncio.sleep(self.lease.renew_every)  # a holder is recovering
                    continue
                idle = await self._step(idle)
            except asyncio.CancelledError:
                await self._disconnect()
                raise
            except PyMongoError:
                log.exception("The change stream failed; resuming")
                await self._disconnect()
                await asyncio.sleep(self.retry_pause)

    async def _connect(self) -> bool:
        """Open the stream where this process's count goes on: after the last event it read
        if it counts in the saved state's epoch, else at the state's resume point. Takes
        the lease if it is free. False: there is nothing to follow yet."""
        state = await self._refresh()
        if self.lease.free(state, time.monotonic()):
            state = await self._claim(state)
        if self._epoch == state.epoch and self._resume is not None:
            with contextlib.suppress(OperationFailure):  # no longer in the oplog
                self._source = await self._streams.open(resume_after=self._resume)
                return True
        if state.resumable:
            try:
                source = await self._streams.open(resume_after=state.token, start_at=state.start)
            except OperationFailure as exc:
                if not self.lease.held():
                    return False  # the holder recovers
                log.warning("Cannot resume the change stream (%s); sequencing afresh", exc)
            else:
                await self._rebase(source, state)
                return True
        return self.lease.held() and await self._recover(state)

    async def _rebase(self, source: Source, state: LogState) -> None:
        """Count on from ``state`` on ``source``. Writes of this process that the new count
        will not reach were sequenced already: their positions are read."""
        self._source, self._epoch, self._last = source, state.epoch, state.pos
        self._resume, self._ahead, self._watermark = state.token, [], state.pos
        if self.waiters:
            keys = sorted({v.key for v in self.waiters.versions()})
            models = sorted({v.model for v in self.waiters.versions()})
            query = {"_id": {"$in": keys}, "model": {"$in": models}}
            stored = {r["_id"]: r async for r in self._docs.find(query, {"seq": 1})}
            for version in self.waiters.versions():
                seq = stored.get(version.key, {}).get("seq")
                # A version replaced since gets its successor's position: at or after it.
                if seq is not None and seq <= state.pos:
                    self.waiters.report(version, int(seq))
        self._moved()

    async def _disconnect(self) -> None:
        if self._source is not None:
            with contextlib.suppress(PyMongoError):
                await self._source.close()
            self._source = None

    async def _step(self, idle: float) -> float:
        """Read what the stream has, count it, and write it while holding the lease;
        returns the next idle pause."""
        assert self._source is not None
        self._kick.clear()
        began = time.monotonic()
        events = await self._source.batch(self._batch)
        for event in events:
            state = state_of(event)
            if state is not None:
                self._see(state)
                continue
            read, self._last = count([event], self._last)
            for version, pos in read:
                if pos <= self._watermark:  # a state read ahead of the stream covers it
                    self.waiters.report(version, pos)
                else:
                    self._ahead.append((version, pos))
        self._resume = self._source.resume_token or self._resume
        if self._state.epoch != self._epoch:  # counting restarted elsewhere
            await self._disconnect()
            return self.idle_poll
        if self.lease.free(self._state, time.monotonic()):
            await self._claim(self._state)
        if self.lease.held():
            await self._sequence()
        if events or time.monotonic() - began >= self.idle_poll:
            return self.idle_poll
        return await self._pause(idle)

    async def _pause(self, idle: float) -> float:
        """Wait up to ``idle`` seconds for a local write; returns the next pause."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event is set, and close() would then wait for this task forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(idle):
                await self._kick.wait()
        # Poll briskly right after a local write and while local writes wait for their
        # positions (the holder may be another process), ever slower while idle.
        if self._kick.is_set() or self.waiters:
            return self.idle_poll
        return min(idle * 2, self.idle_poll_max)

    # -- the state --------------------------------------------------------------------------

    def _see(self, state: LogState, read: bool = False) -> None:
        """A state from the stream (or, ``read``, from the database)."""
        if not read and state.beat < self._state.beat:
            return  # older than one already read
        self._state = state
        self.lease.observe(state, time.monotonic())
        if state.epoch == self._epoch and state.pos > self._watermark:
            self._watermark = state.pos
            cut = bisect.bisect_right([p for _, p in self._ahead], state.pos)
            for version, pos in self._ahead[:cut]:
                self.waiters.report(version, pos)
            del self._ahead[:cut]
            self._moved()

    async def _refresh(self) -> LogState:
        state = await read_state(self._docs)
        if state is None:
            # Every store gets one at open, so someone removed it, or the server lost its
            # data: start a new one, which the next holder recovers.
            await create_state(self._docs, LogState())
            state = await read_state(self._docs) or LogState()
        self._see(state, read=True)
        return state

    async def _claim(self, state: LogState) -> LogState:
        """Take the lease over from ``state``, unless the state was written meanwhile."""
        claim, sent = self.lease.claim(state), time.monotonic()
        taken = {**STATE_KEY, "term": state.term, "beat": state.beat}
        if (await self._docs.replace_one(taken, claim.row())).matched_count:
            self.lease.wrote(claim, sent)
            self._see(claim, read=True)
            log.info("This process sequences the change log now (lease term %d)", claim.term)
            return claim
        return await self._refresh()

    async def _sequence(self) -> None:
        """As the holder: write the positions read above the watermark, with the state that
        covers them, or renew the lease when that is due."""
        now = time.monotonic()
        if not self._ahead and not self.lease.due(now):
            return
        state = self._state
        if self._ahead and not self.lease.valid(now):
            # Past the time it may assume that nobody took over: renew first.
            if not await self._write([], state.next(expires=self.lease.expiry())):
                return
            state = self._state
        if self._ahead and self._resume is not None:
            covered = state.next(
                pos=self._ahead[-1][1], token=self._resume, start=None, expires=self.lease.expiry()
            )
        else:
            covered = state.next(expires=self.lease.expiry())
        await self._write([assignment(v, p) for v, p in self._ahead], covered)

    async def _write(self, assignments: list[UpdateOne], state: LogState) -> bool:
        """Write positions, then ``state``, in one ordered bulk write, the state fenced on
        this holder's term. False: the lease was lost (the positions are written anyway:
        they are the ones the new holder gives)."""
        # The state upserts, so that when the fence does not match, the insert it turns
        # into fails on the state's _id: the lost lease comes back as a duplicate-key
        # error at that operation, in the same round trip.
        ops: list[UpdateOne | ReplaceOne[Row]] = [
            *assignments,
            ReplaceOne(fence(self._state), state.row(), upsert=True),
        ]
        sent = time.monotonic()
        try:
            if self._routed and assignments:
                await self._docs.bulk_write(assignments, ordered=False)
                ops = ops[-1:]
            await self._docs.bulk_write(ops, ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if [(e.get("index"), e.get("code")) for e in errors] != [(len(ops) - 1, 11000)]:
                raise
            log.info("This process no longer holds the sequencer's lease")
            self.lease.lost()
            await self._refresh()
            return False
        self.lease.wrote(state, sent)
        self._see(state, read=True)
        return True

    async def _recover(self, state: LogState) -> bool:
        """As the holder: start a new epoch (see the module's docstring). False: the lease
        was lost meanwhile."""
        start = await self._streams.now()
        source = await self._streams.open(start_at=start)
        try:
            highest = max(state.pos, await highest_position(self._docs))
            base = highest + self._batch if highest else 0
            pending = await unsequenced(self._docs)
            recovered = state.next(
                pos=base + len(pending),
                token=None,
                start=start,
                epoch=uuid.uuid4().hex[:12],
                expires=self.lease.expiry(),
            )
            moves = [assignment(v, base + i) for i, v in enumerate(pending, start=1)]
            if not await self._write(moves, recovered):
                await source.close()
                return False
        except BaseException:
            await source.close()
            raise
        log.info("Change log sequenced afresh from position %d", recovered.pos)
        await self._rebase(source, recovered)
        return True

    def _moved(self) -> None:
        """Wake the readers waiting for the log to move."""
        self._advanced.set()
        self._advanced = asyncio.Event()
