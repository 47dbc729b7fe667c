"""replicate() with several pages in flight: results are taken in log order, so a
checkpoint is only reported once every page before it has landed, whatever order the
target answers in; after a failure mid-pipeline the next run goes on from the last
reported checkpoint and copies everything."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from graphql_repl.replication import (
    ChangeType,
    CheckpointPair,
    Update,
    UpdateStatus,
    replicate,
)
from graphql_repl.replication.replicate import ChangesQuery, Endpoint
from graphql_repl.replication.types import BulkUpdateResult, ChangePage


class SlowFirst(Endpoint):
    """A target that answers its pages in reverse order (each waits for the next one to
    have been sent, up to a moment), optionally failing the ``fail_at``-th page."""

    def __init__(self, inner: Any, fail_at: int | None = None) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.sent = 0
        self.landed: list[int] = []

    async def checkpoint(self) -> str:
        return await self.inner.checkpoint()

    async def read_changes(self, query: ChangesQuery) -> ChangePage:
        return await self.inner.read_changes(query)

    async def bulk_update(self, updates: Sequence[Update]) -> BulkUpdateResult:
        number = self.sent
        self.sent += 1
        if number == self.fail_at:
            raise ConnectionError("the target went away")
        result = await self.inner.bulk_update(updates)
        for _ in range(50):  # let the page after it overtake it
            if self.sent > number + 1:
                break
            await asyncio.sleep(0.005)
        self.landed.append(number)
        return result


async def test_pages_in_flight_are_reported_in_log_order(pair):
    a, b = pair
    source, target = a.model("Note"), SlowFirst(b.model("Note"))
    for i in range(0, 40, 10):
        await source.bulk_update(
            [Update(f"n{j:03d}", ChangeType.CREATE, {"id": f"n{j:03d}"}) for j in range(i, i + 10)]
        )
    told: list[tuple[CheckpointPair, list[int]]] = []

    async def on_chunk(pair_: CheckpointPair, result: Any) -> None:
        told.append((pair_, list(target.landed)))

    result = await replicate(source, target, chunk_size=7, on_chunk=on_chunk, in_flight=3)
    assert result.counts == {UpdateStatus.APPLIED: 40}
    assert len(told) == 6
    for index, (_, landed) in enumerate(told):
        assert set(range(index + 1)) <= set(landed)  # every page before it has landed
    checkpoints = [p.source for p, _ in told]
    pages = []
    since = None
    for _ in range(6):
        page = await source.changes(since, limit=7)
        pages.append(page.checkpoint)
        since = page.checkpoint
    assert checkpoints == pages
    assert sorted(d.data["id"] for d in (await b.model("Note").pull(None, 100)).documents) == [
        f"n{j:03d}" for j in range(40)
    ]


async def test_a_failure_mid_pipeline_resumes_from_the_last_reported_checkpoint(pair):
    a, b = pair
    source = a.model("Note")
    await source.bulk_update(
        [Update(f"m{j:03d}", ChangeType.CREATE, {"id": f"m{j:03d}"}) for j in range(30)]
    )
    target = SlowFirst(b.model("Note"), fail_at=2)
    stored: list[CheckpointPair] = []

    async def on_chunk(pair_: CheckpointPair, result: Any) -> None:
        stored.append(pair_)

    with pytest.raises(ConnectionError):
        await replicate(source, target, chunk_size=5, on_chunk=on_chunk, in_flight=3)
    assert len(stored) <= 2  # nothing after the page that failed
    since = stored[-1] if stored else None
    result = await replicate(source, b.model("Note"), since, chunk_size=5, in_flight=3)
    applied = result.counts.get(UpdateStatus.APPLIED, 0)
    unchanged = result.counts.get(UpdateStatus.UNCHANGED, 0)
    assert applied + unchanged == 30 - 5 * len(stored)
    ids = sorted(d.data["id"] for d in (await b.model("Note").pull(None, 100)).documents)
    assert ids == [f"m{j:03d}" for j in range(30)]
