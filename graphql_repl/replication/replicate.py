"""replicate(): copy a model's changes from a source to a target, LoopBack's way.

The source's changes since ``since.source`` are read page by page and applied to the target
with ``bulk_update``, which settles each one atomically (applied, unchanged, merged or
conflict) against the target's state, so no separate ``diff`` round trip is needed. A pass
stops at the source's checkpoint taken when it started; when the source changed during the
pass, another pass follows, at most ``max_attempts`` in all, so a busy source cannot keep
replicate() running forever.
"""

from __future__ import annotations

import abc
import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .types import (
    DEFAULT_PAGE_SIZE,
    BulkUpdateResult,
    ChangePage,
    CheckpointPair,
    Conflict,
    ReplicationResult,
    Update,
    UpdateResult,
)


@dataclass(frozen=True, slots=True)
class ChangesQuery:
    """Which changes to read: those after ``since`` (all when None) and at or before
    ``until`` (the end of the log when None), matching ``where``, at most ``limit``."""

    since: str | None = None
    where: Any = None
    limit: int = DEFAULT_PAGE_SIZE
    until: str | None = None


class Endpoint(abc.ABC):
    """One end of replication: a local model, or a remote one over GraphQL. Like RxDB's
    replication handler, three operations: where the log ends, the changes since a
    checkpoint, and a write that settles each update (or reports its conflict)."""

    @abc.abstractmethod
    async def checkpoint(self) -> str:
        """The current end of the model's change log."""

    async def changes(
        self,
        since: str | None = None,
        where: Any = None,
        limit: int = DEFAULT_PAGE_SIZE,
        until: str | None = None,
    ) -> ChangePage:
        """A page of changes (see ``ChangesQuery``); ``has_more`` while more remain."""
        return await self.read_changes(ChangesQuery(since, where, limit, until))

    @abc.abstractmethod
    async def read_changes(self, query: ChangesQuery) -> ChangePage: ...

    @abc.abstractmethod
    async def bulk_update(self, updates: Sequence[Update]) -> BulkUpdateResult: ...


async def replicate(
    source: Endpoint,
    target: Endpoint,
    since: CheckpointPair | None = None,
    where: Any = None,
    *,
    chunk_size: int = DEFAULT_PAGE_SIZE,
    max_attempts: int = 3,
    keep_updates: bool = True,
    on_chunk: Callable[[CheckpointPair, BulkUpdateResult | None], Awaitable[None]] | None = None,
    in_flight: int = 1,
) -> ReplicationResult:
    """Replicate ``source`` into ``target``; returns the checkpoints to pass next time.

    With ``keep_updates=False`` only per-status counts are kept, so memory stays flat
    however many documents are copied. ``on_chunk`` is awaited after each page the target
    has applied (with the checkpoint pair to resume from, and the page's result; None for
    a page with no changes), e.g. to store the pair durably.

    ``in_flight`` pages may be sent to the target at once (a remote target works on one
    while the next is read and sent). Their results are taken in log order, so
    ``on_chunk`` is only told of a page once every page before it has landed; and a page
    naming a document that a page still in flight also names waits for it, so a later
    change of a document never overtakes an earlier one.
    """
    since = since or CheckpointPair()
    pipeline = _Pipeline(target, max(1, in_flight), keep_updates, on_chunk, since.target)
    source_cp = since.source
    end = await source.checkpoint()
    try:
        for _ in range(max_attempts):
            while True:
                page = await source.changes(source_cp, where, chunk_size, until=end)
                source_cp = page.checkpoint
                await pipeline.send(page)
                if not page.has_more:
                    break
            await pipeline.drain()
            latest = await source.checkpoint()
            if latest == end:
                break
            end = latest
    finally:
        await pipeline.close()
    target_cp = pipeline.target_cp
    if target_cp is None:
        target_cp = await target.checkpoint()
    assert source_cp is not None
    return ReplicationResult(
        list(pipeline.conflicts.values()),
        CheckpointPair(source_cp, target_cp),
        pipeline.updates,
        dict(pipeline.counts),
    )


@dataclass
class _Sent:
    """A page sent to the target: where the source is once it lands, and its ids."""

    task: asyncio.Task[BulkUpdateResult]
    checkpoint: str
    ids: frozenset[str]


class _Pipeline:
    """The pages sent to the target and not yet landed, taken in the order they were sent."""

    def __init__(
        self,
        target: Endpoint,
        size: int,
        keep_updates: bool,
        on_chunk: Callable[[CheckpointPair, BulkUpdateResult | None], Awaitable[None]] | None,
        target_cp: str | None,
    ) -> None:
        self.target = target
        self.size = size
        self.keep_updates = keep_updates
        self.on_chunk = on_chunk
        self.target_cp = target_cp
        self.sent: deque[_Sent] = deque()
        self.conflicts: dict[str, Conflict] = {}
        self.updates: list[UpdateResult] = []
        self.counts: Counter[Any] = Counter()

    async def send(self, page: ChangePage) -> None:
        if not page.changes:
            await self.drain()  # told in order: after every page before it
            await self._told(page.checkpoint, None)
            return
        ids = frozenset(c.model_id for c in page.changes)
        while self.sent and (len(self.sent) >= self.size or any(ids & s.ids for s in self.sent)):
            await self._land()
        updates = [Update.from_change(c) for c in page.changes]
        task = asyncio.ensure_future(self.target.bulk_update(updates))
        self.sent.append(_Sent(task, page.checkpoint, ids))

    async def drain(self) -> None:
        while self.sent:
            await self._land()

    async def close(self) -> None:
        """Cancel what has not landed (after a failure): it is sent again next time."""
        tasks = [s.task for s in self.sent]
        self.sent.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _land(self) -> None:
        sent = self.sent[0]
        result = await sent.task
        self.sent.popleft()
        self.target_cp = result.checkpoint
        for r in result.results:
            self.counts[r.status] += 1
            self.conflicts.pop(r.model_id, None)
        if self.keep_updates:
            self.updates.extend(result.results)
        self.conflicts.update((c.model_id, c) for c in result.conflicts)
        await self._told(sent.checkpoint, result)

    async def _told(self, source_cp: str, result: BulkUpdateResult | None) -> None:
        if self.on_chunk is None:
            return
        if self.target_cp is None:
            self.target_cp = await self.target.checkpoint()
        await self.on_chunk(CheckpointPair(source_cp, self.target_cp), result)
