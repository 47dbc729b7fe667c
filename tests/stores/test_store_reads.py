"""``get`` by id and ``find`` with limit and offset."""

from __future__ import annotations

import random

import pytest

from .helpers import content, ids_of, put, record, tombstone, where


async def test_get_returns_records_for_many_ids_across_chunks(store):
    ids = [f"n{i:05d}" for i in range(1203)]
    docs = [record(i, views=n) for n, i in enumerate(ids)]
    await put(store, "Note", *docs)
    deleted = [ids[10], ids[700], ids[1200]]
    await put(store, "Note", *(tombstone(i, prev=f"{i}@1") for i in deleted))
    asked = [*ids, *(f"missing-{i}" for i in range(50))]
    random.Random(3).shuffle(asked)
    asked += ids[:5] + ids[-5:]  # repeated ids, in other chunks than their first mention

    got = await store.get("Note", asked)

    assert set(got) == set(ids)
    expected = {d.model_id: content(d) for d in docs}
    expected.update({i: content(tombstone(i, prev=f"{i}@1")) for i in deleted})
    assert {k: content(v) for k, v in got.items()} == expected
    assert all(got[i].deleted for i in deleted)
    assert all(v.checkpoint for v in got.values())


async def test_get_with_no_ids_or_unknown_ids_returns_nothing(store):
    await put(store, "Note", record("n1"))

    assert await store.get("Note", []) == {}
    assert await store.get("Note", ["nope"]) == {}
    assert await store.get("User", ["n1"]) == {}


async def test_get_reports_each_records_latest_checkpoint(store):
    await put(store, "Note", record("a"), record("b"))
    [again] = await put(store, "Note", record("a", version=2))

    got = await store.get("Note", ["a"])

    assert got["a"].checkpoint == again.checkpoint
    assert got["a"].rev == "a@2"


IDS = ["b", "B", "a10", "a9", "a", "_x", "Z", "é", "e", "a1", "10", "9", "ab", "aB", "~", "z"]


async def test_find_orders_by_id_with_limit_and_offset(store):
    order = IDS[:]
    random.Random(5).shuffle(order)
    await put(store, "Note", *(record(i, title=i) for i in order))
    await put(store, "Note", tombstone("a9", prev="a9@1"), tombstone("Z", prev="Z@1"))
    live = sorted(i for i in IDS if i not in ("a9", "Z"))  # by code point, like a byte order

    everything = await store.find("Note", None, 1000)
    pages = [ids_of(await store.find("Note", None, 3, offset)) for offset in range(0, 20, 3)]

    assert ids_of(everything) == live
    assert [d.data for d in everything] == [{"id": i, "title": i} for i in live]
    assert [i for page in pages for i in page] == live
    assert all(len(p) == 3 for p in pages[:4])
    assert pages[4] == live[12:]
    assert await store.find("Note", None, 5, len(live)) == []
    assert ids_of(await store.find("Note", None, 1)) == live[:1]


@pytest.mark.parametrize("offset", [0, 1, 4, 9])
async def test_find_with_where_limit_and_offset_pages_the_matching_documents(store, offset):
    await put(
        store,
        "Note",
        *(record(f"n{i:02d}", views=i, tenantId="t1" if i % 2 else "t2") for i in range(30)),
    )
    matching = [f"n{i:02d}" for i in range(30) if i % 2 and i > 6]

    found = await store.find(
        "Note", where("Note", {"tenantId": "t1", "views": {"gt": 6}}), 4, offset
    )

    assert ids_of(found) == matching[offset : offset + 4]


async def test_find_returns_the_latest_content(store):
    await put(store, "Note", record("n1", title="old"))
    await put(store, "Note", record("n1", version=2, title="new"))

    [doc] = await store.find("Note", None, 10)

    assert content(doc) == content(record("n1", version=2, title="new"))
