"""Helpers shared by the replication tests (no fakes: real repositories over SQLite files)."""

from __future__ import annotations

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


class Wall:
    """A wall clock the replicas of a test share and the test moves on: stamps (and with
    them every LATEST decision) depend only on what the test does, never on how fast it
    runs."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 0.001) -> None:
        """Move on, so the next write carries a strictly later stamp than every write
        made so far on any replica sharing this wall."""
        self.now += seconds


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
