"""The live change feed: one watcher of a model's change log per process, fanned out.

``ChangeHub.subscribe(since, where)`` yields batches of the log's records (each document's
latest version, in log order): it first replays the log after ``since`` and then
switches to the live stream without a gap or a repeat at the seam: the replay reads up to
the hub's cursor (the position through which the hub has published everything), and the
subscriber joins the hub in the same step as it sees its replay reach that cursor, with no
await in between. From then on it receives exactly what the hub publishes after the cursor.

A subscriber that falls more than ``max_pending`` changes behind is cut off with
``FeedOverflow`` (carrying its last checkpoint) instead of growing memory without bound.
A subscription may also carry a ``check`` run every ``check_interval`` seconds (the API
checks that the caller's token still works): when it raises, the subscription ends with
that error.

A live subscriber may also take its records straight from the hub, in the hub's own step
(``Tap``): while its generator waits with nothing pending, the hub hands new records to
the tap's outlet, which writes them to the subscriber's connection at once. Whatever the
outlet does not take (a connection that cannot be written now, an event only Strawberry
can render) is pending as before, in order, and wakes the generator. With a thousand
subscribers an event costs one pass over them instead of a thousand task wake-ups.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .. import tasks
from ..errors import FeedOverflow, ReplError, StoreError
from ..events import Events
from ..filters import Filter, matches
from ..stores.base import StoredDoc
from .changelog import ChangeLog
from .events import FeedCutOff
from .types import DEFAULT_PAGE_SIZE

log = logging.getLogger(__name__)

REPLAY_PAGE = DEFAULT_PAGE_SIZE

# Awaited every check interval while a subscription is open: a ReplError it raises ends it.
Check = Callable[[], Awaitable[object]]  # its result is not used

# Takes a live subscriber's new records in the hub's step; returns how many it took (a
# prefix of them, in order).
Outlet = Callable[[Sequence[StoredDoc]], int]


class Tap:
    """Where the consumer of a subscription sets its outlet (None: no outlet, the records
    wait for the subscription's generator)."""

    __slots__ = ("outlet",)

    def __init__(self) -> None:
        self.outlet: Outlet | None = None


@dataclass(slots=True)
class FeedStats:
    """Counts of one model's feed, for the metrics: records ``published`` by the hub,
    ``delivered`` to subscribers (a record each subscriber received; ``direct``: those the
    hub wrote itself, through a tap), subscribers ``cut_off`` as too slow, and
    subscriptions ``open`` now (replaying or live)."""

    published: int = 0
    delivered: int = 0
    cut_off: int = 0
    open: int = 0
    direct: int = 0


T = TypeVar("T")


class Feed(Generic[T]):
    """A subscription's events, as an async iterator, with its tap: ``direct(take)`` has
    the hub hand each live event to ``take`` in its own step; ``take`` returns False for
    an event it cannot deliver now, and that event and the ones after it come through the
    iterator instead. ``events_of`` turns records into events, each with the number of
    records it stands for."""

    def __init__(
        self,
        events: AsyncIterator[T],
        tap: Tap,
        events_of: Callable[[Sequence[StoredDoc]], Iterable[tuple[int, T]]],
    ) -> None:
        self._events = events
        self._tap = tap
        self._events_of = events_of

    def __aiter__(self) -> Feed[T]:
        return self

    async def __anext__(self) -> T:
        return await anext(self._events)

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    def direct(self, take: Callable[[T], bool] | None) -> None:
        if take is None:
            self._tap.outlet = None
            return
        events_of = self._events_of

        def outlet(docs: Sequence[StoredDoc]) -> int:
            taken = 0
            for records, event in events_of(docs):
                if not take(event):
                    break
                taken += records
            return taken

        self._tap.outlet = outlet


class _Subscriber:
    def __init__(self, where: Filter | None, max_pending: int, tap: Tap | None) -> None:
        self.where = where
        self.max_pending = max_pending
        self.tap = tap
        self.pending: collections.deque[StoredDoc] = collections.deque()
        self.wakeup = asyncio.Event()
        self.error: ReplError | None = None
        self.finished = False  # the server is stopping: end after what is pending
        self.last: str | None = None  # checkpoint of the last record handed out
        # Its generator waits for records, everything before handed out and consumed.
        self.parked = False

    def offer(self, docs: Sequence[StoredDoc]) -> int:
        """Take the hub's new records; returns how many the tap's outlet delivered."""
        if self.error is not None:
            return 0
        where = self.where
        if where is not None:
            docs = [d for d in docs if matches(where, d.data)]
            if not docs:
                return 0
        delivered = 0
        if self.parked and not self.pending and not self.finished and self.tap is not None:
            delivered = self._deliver(docs)
            if delivered == len(docs):
                return delivered
            docs = docs[delivered:]
        self.pending.extend(docs)
        if len(self.pending) > self.max_pending:
            self.pending.clear()
            self.error = FeedOverflow(self.last)
        self.wakeup.set()
        return delivered

    def _deliver(self, docs: Sequence[StoredDoc]) -> int:
        assert self.tap is not None
        outlet = self.tap.outlet
        if outlet is None:
            return 0
        try:
            taken = outlet(docs)
        except Exception:
            # The hub serves every subscriber: this one goes on through its generator.
            log.exception("A feed subscriber's outlet failed; it is served without it")
            self.tap.outlet = None
            return 0
        if taken:
            self.last = docs[taken - 1].checkpoint
        return taken

    def fail(self, error: ReplError) -> None:
        self.error = error
        self.wakeup.set()

    def finish(self) -> None:
        self.finished = True
        self.wakeup.set()


class ChangeHub:
    def __init__(
        self, changelog: ChangeLog, max_pending: int, events: Events | None = None
    ) -> None:
        self.changelog = changelog
        self.max_pending = max_pending
        self.events = events or Events()
        self.stats = FeedStats()
        self.cursor: str | None = None
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._advanced = asyncio.Event()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def _start(self) -> None:
        async with self._start_lock:
            if self._task is None or self._task.done():
                self.cursor = await self.changelog.checkpoint()
                self._task = asyncio.create_task(
                    self._run(self.cursor), name=f"feed-{self.changelog.name}"
                )

    async def _run(self, since: str) -> None:
        try:
            async for page in self.changelog.watch(since):
                self.stats.published += len(page.docs)
                delivered = 0
                for sub in self._subscribers:
                    healthy = sub.error is None
                    delivered += sub.offer(page.docs)
                    if healthy and isinstance(sub.error, FeedOverflow):
                        self._cut_off(sub.error)
                self.stats.delivered += delivered
                self.stats.direct += delivered
                # Published everything through this checkpoint: no await since the offers.
                self.cursor = page.checkpoint
                self._advanced.set()
                self._advanced = asyncio.Event()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("The change feed of %s stopped", self.changelog.name)
            error = exc if isinstance(exc, ReplError) else StoreError("The change feed failed")
            for sub in self._subscribers:
                sub.fail(error)

    def _cut_off(self, error: FeedOverflow) -> None:
        self.stats.cut_off += 1
        name = self.changelog.name
        self.events.emit(FeedCutOff(name, error.checkpoint, self.max_pending))

    def stop(self) -> None:
        """End every subscription normally (after what it has pending); for shutdown."""
        for sub in self._subscribers:
            sub.finish()

    async def close(self) -> None:
        self.stop()
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None

    async def subscribe(
        self,
        since: str | None,
        where: Filter | None,
        check: Check | None,
        check_interval: float,
        tap: Tap | None = None,
    ) -> AsyncIterator[list[StoredDoc]]:
        """Batches (never empty) of the records after ``since`` (none when it is None),
        then of live ones, as they come; ``check`` is awaited every ``check_interval``
        seconds. Live records the ``tap``'s outlet takes are not in the batches."""
        await self._start()
        if since is None:
            # Nothing from before the subscription: start at the end of the log now. The
            # hub's cursor can still be behind a write already acknowledged to this very
            # caller (MongoDB: the hub reads up to the watermark on its own schedule).
            since = await self.changelog.checkpoint()
        sub = _Subscriber(where, self.max_pending, tap)
        watchdog = None
        if check is not None:
            watchdog = asyncio.create_task(_watch(sub, check, check_interval))
        self.stats.open += 1
        try:
            async for batch in self._follow(sub, since):
                self.stats.delivered += len(batch)
                yield batch
        finally:
            self.stats.open -= 1
            if watchdog is not None:
                watchdog.cancel()

    async def _follow(self, sub: _Subscriber, since: str | None) -> AsyncIterator[list[StoredDoc]]:
        position, where = since, sub.where
        while since is not None:
            if sub.error is not None:
                raise sub.error
            target = self.cursor
            page = await self.changelog.records(position, where, REPLAY_PAGE, until=target)
            if page.docs:
                sub.last = page.docs[-1].checkpoint
                yield page.docs
            position = page.checkpoint
            if page.has_more:
                continue
            if position == self.cursor:
                break  # caught up with the hub: join it now, before any other await
            if self.cursor == target:
                # ``since`` is ahead of the hub's cursor; wait for the hub to pass it.
                if self._task is None or self._task.done():
                    raise StoreError("The change feed is not running")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._advanced.wait()
        self._subscribers.add(sub)
        try:
            while True:
                if sub.pending:
                    batch = list(sub.pending)
                    sub.pending.clear()
                    sub.last = batch[-1].checkpoint
                    yield batch
                    continue
                if sub.error is not None:
                    raise sub.error
                if sub.finished:
                    return
                sub.wakeup.clear()
                sub.parked = True
                try:
                    await sub.wakeup.wait()
                finally:
                    sub.parked = False
        finally:
            self._subscribers.discard(sub)


async def _watch(sub: _Subscriber, check: Check, interval: float) -> None:
    while sub.error is None:
        await asyncio.sleep(interval)
        try:
            await check()
        except ReplError as exc:
            sub.fail(exc)
