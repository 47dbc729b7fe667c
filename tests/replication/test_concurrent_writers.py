"""Several OS processes write one store (a SQLite file; a MongoDB database, each process
with its own change-log sequencer) while a reader pages changes(since)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import mongo_server
import pytest
from store_urls import new_store_url  # tests/store_urls.py (pytest puts tests/ on sys.path)

from graphql_repl import Repository, Settings, demo_registry

WRITERS = 4
OPS = 400
WRITER = Path(__file__).with_name("_writer.py")


def _position(checkpoint: str) -> int:
    """The log position inside a checkpoint (``<store id>-<position>``). Clients never
    parse checkpoints; this test does, to check the order the store hands them out in."""
    return int(checkpoint.rpartition("-")[2])


class Reader:
    """Follows the change log from its last checkpoint, one pass (to hasMore false) at a
    time, keeping the latest state of every document it has seen."""

    def __init__(self, notes) -> None:
        self.notes = notes
        self.since: str | None = None
        self.state: dict[str, tuple[str | None, dict | None]] = {}
        self.passes = 0
        self.passes_with_changes = 0

    async def run_pass(self) -> None:
        seen: set[tuple[str, str | None, str]] = set()
        last = -1 if self.since is None else _position(self.since)
        count = 0
        while True:
            page = await self.notes.changes(self.since, limit=7)
            ids = [c.model_id for c in page.changes]
            assert len(ids) == len(set(ids)), f"a document twice in one page: {ids}"
            for change in page.changes:
                key = (change.model_id, change.rev, change.checkpoint)
                assert key not in seen, f"change seen twice in one pass: {key}"
                seen.add(key)
                position = _position(change.checkpoint)
                assert position > last, f"checkpoint {change.checkpoint} not after {last}"
                last = position
                self.state[change.model_id] = (change.rev, change.data)
                count += 1
            assert _position(page.checkpoint) >= last
            last = max(last, _position(page.checkpoint))
            self.since = page.checkpoint
            if not page.has_more:
                break
        self.passes += 1
        self.passes_with_changes += count > 0


@pytest.mark.parametrize("kind", ["sqlite", "mongodb"])
async def test_reader_paging_changes_during_multiprocess_writes_ends_with_every_final_state(
    tmp_path, request, kind
):
    mongodb = request.getfixturevalue("mongodb_url") if kind == "mongodb" else None
    url = new_store_url(kind, tmp_path, "shared", mongodb)
    settings = Settings(store=url)
    env = mongo_server.subprocess_env()
    async with Repository.from_settings(settings, demo_registry()) as repo:
        notes = repo.model("Note")
        reader = Reader(notes)
        writers = [
            await asyncio.create_subprocess_exec(
                sys.executable, str(WRITER), url, str(w), str(OPS), env=env
            )
            for w in range(WRITERS)
        ]
        waiting = [asyncio.ensure_future(p.wait()) for p in writers]
        while not all(w.done() for w in waiting):
            await reader.run_pass()
            await asyncio.sleep(0.005)
        assert [await w for w in waiting] == [0] * WRITERS
        await reader.run_pass()  # the final pass, after every writer finished

        live = {d["id"]: d for d in await notes.find(limit=5000)}
        latest = {c.model_id: c for c in (await notes.changes(limit=5000)).changes}
        assert live, "the writers wrote nothing"
        assert {k for k, (_, data) in reader.state.items() if data is not None} == set(live)
        for model_id, (rev, data) in reader.state.items():
            assert data == await notes.get(model_id)
            assert data == live.get(model_id)
            assert rev == latest[model_id].rev
        # The reader really ran alongside the writers.
        assert reader.passes_with_changes > 2
