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
from collections import Counter
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
) -> ReplicationResult:
    """Replicate ``source`` into ``target``; returns the checkpoints to pass next time.

    With ``keep_updates=False`` only per-status counts are kept, so memory stays flat
    however many documents are copied. ``on_chunk`` is awaited after each page the target
    has applied (with the checkpoint pair to resume from, and the page's result; None for
    a page with no changes), e.g. to store the pair durably.
    """
    since = since or CheckpointPair()
    source_cp, target_cp = since.source, since.target
    conflicts: dict[str, Conflict] = {}
    updates: list[UpdateResult] = []
    counts: Counter[Any] = Counter()
    end = await source.checkpoint()
    for _ in range(max_attempts):
        while True:
            page = await source.changes(source_cp, where, chunk_size, until=end)
            result: BulkUpdateResult | None = None
            if page.changes:
                result = await target.bulk_update([Update.from_change(c) for c in page.changes])
                target_cp = result.checkpoint
                for r in result.results:
                    counts[r.status] += 1
                    conflicts.pop(r.model_id, None)
                if keep_updates:
                    updates.extend(result.results)
                conflicts.update((c.model_id, c) for c in result.conflicts)
            source_cp = page.checkpoint
            if on_chunk is not None:
                if target_cp is None:
                    target_cp = await target.checkpoint()
                await on_chunk(CheckpointPair(source_cp, target_cp), result)
            if not page.has_more:
                break
        latest = await source.checkpoint()
        if latest == end:
            break
        end = latest
    if target_cp is None:
        target_cp = await target.checkpoint()
    assert source_cp is not None
    return ReplicationResult(
        list(conflicts.values()), CheckpointPair(source_cp, target_cp), updates, dict(counts)
    )
