"""``changes``: paging the change log with ``limit``, ``has_more``, ``until`` and ``where``."""

from __future__ import annotations

import asyncio

import pytest

from graphql_repl.replication import ChangeType

from .helpers import content, drain, ids_of, put, record, tombstone, where


@pytest.mark.parametrize("limit", [1, 4, 5, 37, 38, 500])
async def test_changes_pages_never_skip_or_repeat(store, limit):
    docs = [record(f"n{i:02d}", views=i) for i in range(37)]
    for start in range(0, 37, 10):  # several transactions
        await put(store, "Note", *docs[start : start + 10])

    changes = await drain(store, "Note", limit=limit)

    assert [content(d) for d in changes.docs] == [content(d) for d in docs]
    assert len(changes.pages) == max(1, -(-37 // limit))
    assert all(len(page) == limit for page in changes.pages[:-1])
    assert len({d.checkpoint for d in changes.docs}) == 37


async def test_has_more_is_false_when_a_page_takes_exactly_the_rest(store):
    await put(store, "Note", *(record(f"n{i}") for i in range(6)))

    first = await store.changes("Note", None, None, 3)
    second = await store.changes("Note", first.checkpoint, None, 3)

    assert first.has_more is True
    assert ids_of(second.docs) == ["n3", "n4", "n5"]
    assert second.has_more is False
    last = await store.changes("Note", second.checkpoint, None, 3)
    assert (last.docs, last.has_more) == ([], False)


async def test_page_checkpoint_is_the_checkpoint_of_its_last_change_while_more_remain(store):
    await put(store, "Note", *(record(f"n{i}") for i in range(5)))

    page = await store.changes("Note", None, None, 2)
    again = await store.changes("Note", page.docs[-1].checkpoint, None, 2)
    resumed = await store.changes("Note", page.checkpoint, None, 2)

    assert ids_of(again.docs) == ids_of(resumed.docs) == ["n2", "n3"]


async def test_the_last_page_checkpoint_sees_only_later_writes(store):
    await put(store, "Note", *(record(f"n{i}") for i in range(5)))
    end = (await drain(store, "Note", limit=2)).checkpoint

    assert (await store.changes("Note", end, None, 10)).docs == []
    await put(store, "Note", record("n1", version=2), record("new"))
    assert (await drain(store, "Note", since=end)).ids == ["n1", "new"]


async def test_changes_until_stops_at_the_given_checkpoint(store):
    await put(store, "Note", *(record(f"a{i}") for i in range(10)))
    until = await store.checkpoint("Note")
    await put(store, "Note", *(record(f"b{i}") for i in range(5)))

    upto = await drain(store, "Note", until=until, limit=3)

    assert upto.ids == [f"a{i}" for i in range(10)]
    assert len(upto.pages) == 4  # 3 + 3 + 3 + 1: has_more stops at until
    rest = await drain(store, "Note", since=upto.checkpoint)
    assert rest.ids == [f"b{i}" for i in range(5)]


async def test_changes_until_a_change_checkpoint_includes_that_change(store):
    written = await put(store, "Note", *(record(f"n{i}") for i in range(6)))

    upto = await drain(store, "Note", since=written[1].checkpoint, until=written[3].checkpoint)

    assert upto.ids == ["n2", "n3"]
    assert (await drain(store, "Note", since=upto.checkpoint)).ids == ["n4", "n5"]


async def test_changes_until_excludes_documents_updated_after_it(store):
    """A document changed after ``until`` has its latest change after ``until``."""
    await put(store, "Note", record("a"), record("b"), record("c"))
    until = await store.checkpoint("Note")
    await put(store, "Note", record("a", version=2))

    assert (await drain(store, "Note", until=until)).ids == ["b", "c"]


async def test_changes_until_at_or_before_since_returns_nothing(store):
    written = await put(store, "Note", *(record(f"n{i}") for i in range(4)))

    same = await store.changes("Note", written[2].checkpoint, None, 10, until=written[2].checkpoint)
    before = await store.changes(
        "Note", written[2].checkpoint, None, 10, until=written[0].checkpoint
    )

    assert (same.docs, same.has_more) == ([], False)
    assert (before.docs, before.has_more) == ([], False)
    # Nothing is skipped by following the returned checkpoint.
    assert (await drain(store, "Note", since=before.checkpoint)).ids == ["n3"]


async def test_changes_until_with_where(store):
    await put(store, "Note", *(record(f"n{i}", tenantId=f"t{i % 2}") for i in range(8)))
    until = await store.checkpoint("Note")
    await put(store, "Note", record("late", tenantId="t0"))

    upto = await drain(store, "Note", filter_={"tenantId": "t0"}, until=until, limit=2)

    assert upto.ids == ["n0", "n2", "n4", "n6"]
    later = await drain(store, "Note", since=upto.checkpoint, filter_={"tenantId": "t0"})
    assert later.ids == ["late"]


async def test_changes_with_where_pages_only_matching_changes(store):
    docs = [record(f"n{i:02d}", tenantId="t1" if i % 3 == 0 else "t2") for i in range(40)]
    await put(store, "Note", *docs)
    expected = [d.model_id for d in docs if d.data["tenantId"] == "t1"]

    for limit in (1, 4, 14, 100):
        changes = await drain(store, "Note", filter_={"tenantId": "t1"}, limit=limit)
        assert changes.ids == expected


async def test_changes_with_where_moves_past_non_matching_changes(store):
    await put(store, "Note", record("a", tenantId="t1"), record("b", tenantId="t2"))
    end = (await drain(store, "Note", filter_={"tenantId": "t1"})).checkpoint

    await put(store, "Note", *(record(f"x{i}", tenantId="t2") for i in range(5)))
    nothing = await drain(store, "Note", since=end, filter_={"tenantId": "t1"})
    await put(store, "Note", record("c", tenantId="t1"))
    after = await drain(store, "Note", since=nothing.checkpoint, filter_={"tenantId": "t1"})

    assert nothing.ids == []
    assert after.ids == ["c"]


async def test_changes_where_matches_tombstones_by_change_properties(store):
    await put(
        store, "Note", record("a", title="x", tenantId="t1"), record("b", title="x", tenantId="t2")
    )
    await put(store, "Note", tombstone("a", prev="a@1", tenantId="t1"))

    by_tenant = await drain(store, "Note", filter_={"tenantId": "t1"})
    by_title = await drain(store, "Note", filter_={"title": "x"})

    assert by_tenant.ids == ["a"]
    assert by_tenant.docs[0].deleted
    assert by_title.ids == ["b"]  # the deleted content is gone: only change properties remain


async def test_repository_deletes_are_changes_its_tenant_filter_still_matches(repo):
    notes = repo.model("Note")
    await notes.create({"id": "t1:n1", "title": "a", "tenantId": "t1"})
    await notes.create({"id": "t2:n2", "title": "b", "tenantId": "t2"})
    await notes.update("t1:n1", {"title": "a2"})
    assert await notes.delete("t1:n1") is True

    page = await notes.changes(where={"tenantId": "t1"})

    assert [(c.model_id, c.type) for c in page.changes] == [("t1:n1", ChangeType.DELETE)]
    assert page.changes[0].rev is None
    assert page.changes[0].data is None
    assert await notes.find() == [{"id": "t2:n2", "title": "b", "tenantId": "t2"}]
    # As tenant t1 sees it: its own id, and its deletion.
    mine = await repo.view("t1").model("Note").changes()
    assert [(c.model_id, c.type) for c in mine.changes] == [("n1", ChangeType.DELETE)]


async def test_changes_of_one_model_do_not_include_another_models(store):
    await put(store, "Note", record("same", title="note"))
    await put(store, "User", record("same", name="user"), record("u2"))

    notes = await drain(store, "Note")
    users = await drain(store, "User")

    assert [d.data for d in notes.docs] == [{"id": "same", "title": "note"}]
    assert users.ids == ["same", "u2"]
    assert (await store.get("Note", ["same"]))["same"].data == {"id": "same", "title": "note"}
    assert ids_of(await store.find("Note", None, 10)) == ["same"]
    assert (await drain(store, "Note", since=notes.checkpoint)).ids == []


async def test_changes_pages_never_skip_or_repeat_while_writers_run(store):
    """A reader following pages while others write sees every document's final state,
    each change once, in log order."""
    final: dict[str, int] = {}

    async def writer(w: int) -> None:
        for i in range(12):
            model_id = f"w{w}-{i % 6}"
            version = final.get(model_id, 0) + 1
            final[model_id] = version
            await put(store, "Note", record(model_id, version, views=version))
            await asyncio.sleep(0)

    seen: list[tuple[str, str, str]] = []  # (id, rev, checkpoint)
    done = asyncio.Event()

    async def reader() -> str | None:
        checkpoint = None
        while True:
            finished = done.is_set()
            page = await store.changes("Note", checkpoint, None, 5)
            seen.extend((d.model_id, d.rev, d.checkpoint) for d in page.docs)
            checkpoint = page.checkpoint
            if finished and not page.has_more:
                return checkpoint
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(4)))
    read_while_writing = len(seen)
    done.set()
    end = await reading

    assert read_while_writing > 0, "the reader never ran alongside the writers"

    assert len({c for _, _, c in seen}) == len(seen), "a change was read twice"
    assert len(set(seen)) == len(seen)
    last_seen = {model_id: rev for model_id, rev, _ in seen}
    assert last_seen == {model_id: f"{model_id}@{v}" for model_id, v in final.items()}
    assert (await store.changes("Note", end, None, 10)).docs == []
    # The latest changes, read again from the start, are in the order the reader met them.
    latest = [(d.model_id, d.rev, d.checkpoint) for d in (await drain(store, "Note")).docs]
    assert [s for s in seen if s in set(latest)] == latest


async def test_changes_with_where_on_an_id_list(store):
    await put(store, "Note", *(record(f"n{i}") for i in range(10)))
    await put(store, "Note", record("n3", version=2))

    changes = await drain(store, "Note", filter_={"id": {"inq": ["n3", "n7", "n99"]}}, limit=1)

    assert changes.ids == ["n7", "n3"]
    assert (await store.changes("Note", None, where("Note", {"id": {"inq": []}}), 5)).docs == []
