"""Helpers shared by the replication tests (no fakes: real repositories over SQLite files)."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql_repl import Repository
from graphql_repl.replication import CheckpointPair, ReplicationResult, UpdateStatus, replicate


async def sync(
    source: Repository,
    target: Repository,
    model: str = "Note",
    since: CheckpointPair | None = None,
    where: Any = None,
) -> ReplicationResult:
    """Replicate ``model`` from one replica into the same model on another replica."""
    return await replicate(
        source.model(model),
        target.model(model),
        since,
        where,
        chunk_size=target.settings.replication_chunk_size,
        max_attempts=target.settings.replication_max_attempts,
    )


async def sync_both(a: Repository, b: Repository, model: str = "Note") -> None:
    """A→B then B→A, asserting that neither direction raises a conflict."""
    for src, dst in ((a, b), (b, a)):
        result = await sync(src, dst, model)
        assert result.conflicts == [], result.conflicts
        assert UpdateStatus.CONFLICT not in result.counts, result.counts


def statuses(result: ReplicationResult) -> dict[str, UpdateStatus]:
    return {u.model_id: u.status for u in result.updates}


async def later() -> None:
    """Let the wall clock move on, so the next write carries a strictly later HLC stamp
    than every write made so far on any replica of this process."""
    await asyncio.sleep(0.005)


async def snapshot(
    repo: Repository, model: str = "Note"
) -> list[tuple[dict[str, Any], str | None]]:
    """Every live document of ``model`` with its rev (taken from the change log), by id."""
    docs = await repo.model(model).find(limit=5000)
    revs: dict[str, str | None] = {}
    since = None
    while True:
        page = await repo.model(model).changes(since, limit=5000)
        for change in page.changes:
            revs[change.model_id] = change.rev
        since = page.checkpoint
        if not page.has_more:
            break
    return [(d, revs.get(d["id"])) for d in docs]
