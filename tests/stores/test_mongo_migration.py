"""A store written by schema 1 (positions were cluster times; the watermark and the resume
token lived in ``meta``), opened by this version: migrated in place, its positions and
the checkpoints it issued still valid."""

from __future__ import annotations

import asyncio

import pytest

from graphql_repl.errors import StoreError
from graphql_repl.stores.mongodb.schema import SCHEMA_VERSION

from .helpers import drain, put, record
from .mongo import client_of, database_of, stored

pytestmark = pytest.mark.backends("mongodb")

STORE_ID = "0123456789abcdef"
SECOND = 1_760_000_000  # when schema 1 sequenced these


def cluster_time(inc: int, second: int = SECOND) -> int:
    """A position as schema 1 gave it: the event's cluster time, (seconds << 32) | inc."""
    return (second << 32) | inc


SEQUENCED = [(f"n{i}", cluster_time(10 * i)) for i in range(1, 7)]
WATERMARK = SEQUENCED[-1][1]
# Sequenced, but the server stopped before it raised the watermark past it.
LATE = ("late", cluster_time(5, SECOND + 1))
# Written, but the server stopped before it was sequenced.
UNSEQUENCED = "unsequenced"


async def _write_schema_1(url: str) -> None:
    client = client_of(url)
    try:
        db = database_of(client, url)
        await db["meta"].insert_many(
            [
                {"_id": "store", "store_id": STORE_ID, "schema": 1},
                {"_id": "watermark", "pos": WATERMARK},
                {"_id": "sequencer", "token": {"_data": f"{SECOND:08x}0000003c"}},
            ]
        )
        docs = db["documents"]
        await docs.create_index([("model", 1), ("seq", 1)])
        await docs.create_index([("model", 1), ("id", 1)])
        for model_id, seq in [*SEQUENCED, LATE]:
            await docs.insert_one(stored("Note", model_id, "v1", seq, title=model_id))
        await docs.insert_one(stored("Note", UNSEQUENCED, "v1", None, title=UNSEQUENCED))
    finally:
        await client.close()


def _position(checkpoint: str) -> int:
    return int(checkpoint.rpartition("-")[2])


async def test_a_schema_1_store_keeps_its_positions_and_checkpoints(new_url, open_store):
    url = new_url()
    await _write_schema_1(url)
    old_checkpoint = f"{STORE_ID}-{cluster_time(30)}"
    old_end = f"{STORE_ID}-{WATERMARK}"

    first, second = await asyncio.gather(open_store(url), open_store(url))  # two processes

    assert first.store_id == second.store_id == STORE_ID
    everything = ["n1", "n2", "n3", "n4", "n5", "n6", "late", UNSEQUENCED]
    for limit in (1, 7):
        changes = await drain(first, "Note", limit=limit)
        assert changes.ids == everything  # each once: no gap, no repeat
        positions = [_position(d.checkpoint) for d in changes.docs]
        assert positions[:7] == [seq for _, seq in [*SEQUENCED, LATE]]  # kept as they were
        assert positions == sorted(set(positions))
    assert (await drain(second, "Note", since=old_checkpoint)).ids == everything[3:]
    assert (await drain(second, "Note", since=old_end)).ids == ["late", UNSEQUENCED]

    end = await first.checkpoint("Note")
    [new] = await put(second, "Note", record("new"))
    assert (await drain(first, "Note", since=end)).ids == ["new"]
    assert _position(new.checkpoint) > _position(end)

    client = client_of(url)
    try:
        meta = database_of(client, url)["meta"]
        assert (await meta.find_one({"_id": "store"}))["schema"] == SCHEMA_VERSION
        assert await meta.count_documents({"_id": {"$in": ["watermark", "sequencer"]}}) == 0
    finally:
        await client.close()


async def test_the_migrated_store_opens_again_unchanged(new_url, open_store):
    url = new_url()
    await _write_schema_1(url)
    first = await open_store(url)
    before = await drain(first, "Note")
    await first.close()

    again = await open_store(url)

    after = await drain(again, "Note")
    assert [(d.model_id, d.checkpoint) for d in after.docs] == [
        (d.model_id, d.checkpoint) for d in before.docs
    ]
    assert after.checkpoint == before.checkpoint


async def test_a_store_of_an_unknown_schema_is_refused(new_url, open_store):
    url = new_url()
    client = client_of(url)
    try:
        meta = database_of(client, url)["meta"]
        await meta.insert_one({"_id": "store", "store_id": STORE_ID, "schema": 99})
    finally:
        await client.close()

    with pytest.raises(StoreError, match="schema version 99"):
        await open_store(url)
