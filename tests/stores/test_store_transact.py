"""``transact``: atomic writes with their change entries, and recorded conflicts."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from graphql_repl.errors import NotFound
from graphql_repl.stores import StoredConflict, StoredDoc, WriteBatch

from .helpers import conflict, content, drain, fresh, ids_of, put, record, tombstone, where


async def test_transact_writes_documents_and_returns_them_with_checkpoints(store):
    docs = [record("n1", title="one"), record("n2", title="two", tags=["a"]), record("n3")]
    batch = WriteBatch([fresh(d) for d in docs])

    written, result = await store.transact("Note", ["n1", "n2", "n3"], lambda c, p: (batch, 42))

    assert result == 42
    assert [content(d) for d in written] == [content(d) for d in docs]
    checkpoints = [d.checkpoint for d in written]
    assert all(isinstance(c, str) and c for c in checkpoints)
    assert len(set(checkpoints)) == 3
    stored = await store.get("Note", ["n1", "n2", "n3"])
    assert {k: content(v) for k, v in stored.items()} == {d.model_id: content(d) for d in docs}
    assert {k: v.checkpoint for k, v in stored.items()} == {
        d.model_id: d.checkpoint for d in written
    }
    logged = await drain(store, "Note")
    assert [(d.model_id, d.checkpoint) for d in logged.docs] == [
        (d.model_id, d.checkpoint) for d in written
    ]


async def test_decide_sees_current_records_with_bases_and_pending_conflicts(store):
    await put(
        store,
        "Note",
        record("n1", version=2, title="x"),
        record("n2"),
        tombstone("n3", prev="n3@1"),
        conflicts=[conflict("n2", {"id": "n2"}, title="theirs")],
    )
    seen: list[tuple[dict[str, StoredDoc], dict[str, StoredConflict]]] = []

    def decide(current, pending):
        seen.append((current, pending))
        return WriteBatch(), None

    await store.transact("Note", ["n1", "n2", "n3", "missing"], decide)

    [(current, pending)] = seen
    assert set(current) == {"n1", "n2", "n3"}
    assert content(current["n1"]) == content(record("n1", version=2, title="x"))
    assert current["n1"].bases == {"n1@1": {"id": "n1"}}
    assert current["n3"].deleted
    assert current["n3"].prev == "n3@1"
    assert pending == {"n2": conflict("n2", {"id": "n2"}, title="theirs")}


async def test_decide_only_sees_the_ids_it_asked_for(store):
    await put(store, "Note", record("n1"), record("n2"), conflicts=[conflict("n2", None)])
    seen = []

    def decide(current, pending):
        seen.append((set(current), set(pending)))
        return WriteBatch(), None

    await store.transact("Note", ["n1"], decide)

    assert seen == [({"n1"}, set())]


async def test_checkpoints_only_grow(store):
    """Every checkpoint a write returns, passed as ``since``, yields exactly the documents
    whose latest write came after it, in write order (a model of the log kept here)."""
    rng = random.Random(7)
    log: list[str] = []  # ids in write order, each write appended
    issued: list[tuple[str, int]] = []  # (checkpoint, number of writes up to and including it)
    version: dict[str, int] = {}
    for _ in range(25):
        ids = rng.sample([f"n{i}" for i in range(8)], rng.randint(1, 3))
        docs = []
        for model_id in ids:
            version[model_id] = version.get(model_id, 0) + 1
            docs.append(record(model_id, version[model_id], views=version[model_id]))
        written = await put(store, "Note", *docs)
        await put(store, "User", record(f"u{len(log)}"))  # another model's writes in between
        for doc in written:
            log.append(doc.model_id)
            issued.append((doc.checkpoint, len(log)))

    assert len({c for c, _ in issued}) == len(issued), "a checkpoint was issued twice"
    for checkpoint, position in issued:
        later = log[position:]
        expected = [m for i, m in enumerate(later) if m not in later[i + 1 :]]
        assert (await drain(store, "Note", since=checkpoint, limit=3)).ids == expected


async def test_an_updated_document_moves_to_the_end_of_the_log_and_appears_once(store):
    await put(store, "Note", record("a"), record("b"), record("c"))
    [updated] = await put(store, "Note", record("a", version=2, title="again"))

    changes = await drain(store, "Note")

    assert changes.ids == ["b", "c", "a"]
    assert content(changes.docs[-1]) == content(record("a", version=2, title="again"))
    assert changes.docs[-1].checkpoint == updated.checkpoint
    # Read from before the update, the document appears once, in its latest state.
    first = (await store.changes("Note", None, None, 1)).checkpoint
    after_b = await drain(store, "Note", since=first)
    assert after_b.ids == ["c", "a"]


async def test_a_document_written_twice_in_one_transaction_appears_once(store):
    await put(store, "Note", record("a"), record("b"))
    await put(store, "Note", record("b", version=2), record("a", version=2), record("b", version=3))

    changes = await drain(store, "Note")

    assert sorted(changes.ids) == ["a", "b"]
    assert (await store.get("Note", ["b"]))["b"].rev == "b@3"


async def test_a_tombstone_appears_in_changes_and_get_but_not_in_find(store):
    await put(store, "Note", record("n1", tenantId="t1"), record("n2"))
    [gone] = await put(store, "Note", tombstone("n1", prev="n1@1", tenantId="t1"))

    changes = await drain(store, "Note")
    found = await store.find("Note", None, 10)
    got = await store.get("Note", ["n1", "n2"])

    assert changes.ids == ["n2", "n1"]
    assert changes.docs[-1].deleted
    assert changes.docs[-1].rev is None
    assert changes.docs[-1].checkpoint == gone.checkpoint
    assert changes.docs[-1].data == {"id": "n1", "tenantId": "t1"}
    assert ids_of(found) == ["n2"]
    assert got["n1"].deleted
    assert got["n1"].prev == "n1@1"
    assert (await store.find("Note", where("Note", {"tenantId": "t1"}), 10)) == []


async def test_a_deleted_document_can_be_written_again(store):
    await put(store, "Note", record("n1"))
    await put(store, "Note", tombstone("n1", prev="n1@1"))
    await put(store, "Note", record("n1", version=2, title="back"))

    assert ids_of(await store.find("Note", None, 10)) == ["n1"]
    assert (await drain(store, "Note")).ids == ["n1"]


class Refused(Exception):
    pass


@pytest.mark.parametrize(
    "error", [Refused("no"), NotFound("no conflict")], ids=["any-exception", "repl-error"]
)
async def test_a_decide_that_raises_rolls_back_its_transaction(store, error):
    await put(store, "Note", record("n1", title="kept"), conflicts=[conflict("n1", {"id": "n1"})])
    before = await store.checkpoint("Note")

    def decide(current, pending):
        raise error

    with pytest.raises(type(error)) as raised:
        await store.transact("Note", ["n1", "n2"], decide)

    assert raised.value is error  # passed through unchanged, not wrapped
    assert (await store.changes("Note", before, None, 10)).docs == []
    assert content((await store.get("Note", ["n1", "n2"]))["n1"]) == content(
        record("n1", title="kept")
    )
    assert ids_of(await store.conflicts("Note")) == ["n1"]
    # The store is still usable: the failed transaction left nothing open.
    await put(store, "Note", record("n3"))
    assert ids_of((await store.changes("Note", before, None, 10)).docs) == ["n3"]


async def test_a_write_that_fails_midway_rolls_back_the_whole_batch(store):
    await put(store, "Note", record("n1", title="kept"), conflicts=[conflict("n1", {"id": "n1"})])
    before = await store.checkpoint("Note")
    unstorable = record("n3", title=object())  # not JSON: fails after n2 was prepared
    batch = WriteBatch(
        [record("n1", version=2, title="lost"), record("n2"), unstorable],
        [conflict("n2", None)],
        ["n1"],
    )

    # Which error is the backend's choice; each says why the record cannot be written.
    with pytest.raises(Exception, match=r"not JSON serializable|cannot be stored"):
        await store.transact("Note", ["n1", "n2", "n3"], lambda c, p: (batch, None))

    assert (await store.changes("Note", before, None, 10)).docs == []
    got = await store.get("Note", ["n1", "n2", "n3"])
    assert list(got) == ["n1"]
    assert got["n1"].data["title"] == "kept"
    assert ids_of(await store.conflicts("Note")) == ["n1"]
    await put(store, "Note", record("n4"))
    assert ids_of((await store.changes("Note", before, None, 10)).docs) == ["n4"]


async def test_an_empty_batch_writes_nothing(store):
    await put(store, "Note", record("n1"))
    before = await store.checkpoint("Note")

    written, result = await store.transact("Note", ["n1", "n2"], lambda c, p: (WriteBatch(), "ok"))

    assert (written, result) == ([], "ok")
    assert (await store.changes("Note", before, None, 10)).docs == []
    assert ids_of((await drain(store, "Note")).docs) == ["n1"]


async def test_conflicts_are_recorded_listed_by_id_and_settled(store):
    recorded = [
        conflict("c", {"id": "c", "name": "C"}, name="c2"),
        conflict("a", {"id": "a", "name": "A"}, name="a2", email="a@x"),
        conflict("b", None, name="b2"),
    ]
    written = await put(store, "User", conflicts=recorded)

    assert written == []  # recording a conflict writes no document
    assert (await drain(store, "User")).docs == []
    assert await store.conflicts("User") == sorted(recorded, key=lambda c: c.model_id)
    assert await store.conflicts("RemoteUser") == []

    await put(store, "User", record("b", name="resolved"), settled=["b"])

    assert ids_of(await store.conflicts("User")) == ["a", "c"]
    assert (await drain(store, "User")).ids == ["b"]


async def test_recording_a_conflict_again_replaces_the_earlier_one(store):
    await put(store, "User", conflicts=[conflict("u1", {"id": "u1"}, name="first")])
    await put(store, "User", conflicts=[conflict("u1", {"id": "u1", "name": "T"}, name="second")])

    assert await store.conflicts("User") == [
        conflict("u1", {"id": "u1", "name": "T"}, name="second")
    ]


async def test_settling_without_a_write_removes_the_conflict(store):
    await put(store, "User", conflicts=[conflict("u1", None), conflict("u2", None)])

    await put(store, "User", settled=["u1", "never-recorded"])

    assert ids_of(await store.conflicts("User")) == ["u2"]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"ownerId": "t1"}, ["a", "c"]),
        ({"ownerId": {"neq": "t1"}}, ["b", "d", "e"]),
        ({"ownerId": None}, ["d", "e"]),
        ({"title": {"like": "T%"}}, ["a", "b"]),
        ({"count": {"gte": 2}}, ["b", "c"]),
        ({"tags": "red"}, ["a"]),
        ({"or": [{"done": True}, {"ownerId": "t2"}]}, ["b", "c"]),
        # A target that was deleted has no document: only "is null" tests match it.
        ({"id": {"inq": ["a", "e", "zz"]}}, ["a"]),
        ({"id": {"neq": None}}, ["a", "b", "c", "d"]),
    ],
)
async def test_conflicts_where_filters_on_the_target_document(store, filter_, expected):
    targets = {
        "a": {"id": "a", "title": "Target a", "tags": ["red"], "count": 1, "ownerId": "t1"},
        "b": {"id": "b", "title": "T", "count": 2, "ownerId": "t2"},
        "c": {"id": "c", "title": "t", "count": 3, "done": True, "ownerId": "t1"},
        "d": {"id": "d", "tags": [], "done": False},
        "e": None,  # the target side deleted the document
    }
    # The source sides say the opposite, so a filter on the wrong side gives other ids.
    recorded = [
        conflict(i, target, title="Source", ownerId="t9", count=0, tags=["red"], done=True)
        for i, target in targets.items()
    ]
    await put(store, "Item", conflicts=recorded)

    listed = await store.conflicts("Item", where("Item", filter_))

    assert ids_of(listed) == expected


async def test_transact_reads_more_than_500_ids_and_their_conflicts(store):
    ids = [f"n{i:05d}" for i in range(1203)]
    with_conflicts = [ids[3], ids[600], ids[1202]]
    await put(
        store,
        "Note",
        *(record(i, views=n) for n, i in enumerate(ids)),
        conflicts=[conflict(i, {"id": i}) for i in with_conflicts],
    )
    seen = []

    def decide(current, pending):
        seen.append((current, pending))
        return WriteBatch([record(i, version=2) for i in ids]), None

    written, _ = await store.transact("Note", [*ids, "missing-1", "missing-2"], decide)

    [(current, pending)] = seen
    assert set(current) == set(ids)
    assert all(current[i].data["views"] == n for n, i in enumerate(ids))
    assert set(pending) == set(with_conflicts)
    assert len(written) == 1203
    assert len({d.checkpoint for d in written}) == 1203
    assert (await drain(store, "Note", limit=500)).ids == ids


async def test_concurrent_transactions_get_distinct_checkpoints_in_log_order(store):
    async def write(i: int) -> StoredDoc:
        [doc] = await put(store, "Note", record(f"n{i}", views=i))
        return doc

    written = await asyncio.gather(*(write(i) for i in range(40)))

    logged = await drain(store, "Note", limit=7)
    assert sorted(logged.ids) == sorted(d.model_id for d in written)
    by_id = {d.model_id: d.checkpoint for d in written}
    assert [d.checkpoint for d in logged.docs] == [by_id[d.model_id] for d in logged.docs]
    assert len(set(by_id.values())) == 40


async def test_concurrent_read_modify_write_transactions_do_not_lose_updates(store):
    await put(store, "Note", record("counter", views=0))

    def increment(current, pending):
        cur = current["counter"]
        version = int(cur.rev.split("@")[1]) + 1
        return WriteBatch([record("counter", version, views=cur.data["views"] + 1)]), None

    await asyncio.gather(*(store.transact("Note", ["counter"], increment) for _ in range(30)))

    assert (await store.get("Note", ["counter"]))["counter"].data["views"] == 30


async def test_conflicts_on_a_deleted_target_match_through_its_tombstone(store):
    deleted = dataclasses.replace(
        conflict("gone", None, title="Source", ownerId="t1"),
        match_data={"id": "gone", "ownerId": "t1"},
    )
    other = dataclasses.replace(
        conflict("elsewhere", None, title="Source", ownerId="t1"),
        match_data={"id": "elsewhere", "ownerId": "t2"},
    )
    await put(store, "Item", conflicts=[deleted, other])

    listed = await store.conflicts("Item", where("Item", {"ownerId": "t1"}))

    assert ids_of(listed) == ["gone"]
    assert listed[0].target_data is None
