"""Per-field merges of concurrent edits: the Note demo model and every strategy kind."""

from __future__ import annotations

import pytest

from graphql_repl import Custom, Field, FieldConflict, FieldType, Model, Registry, Strategy
from graphql_repl.replication import Update, UpdateStatus

from .helpers import snapshot, statuses, sync, sync_both


async def _note_on_both(a, b, **fields):
    await a.model("Note").create({"id": "n1", **fields})
    await sync_both(a, b)


def _is_subsequence(part, whole):
    it = iter(whole)
    return all(item in it for item in part)


@pytest.mark.parametrize("first", ["a-to-b-first", "b-to-a-first"])
async def test_concurrent_title_edits_take_the_later_write_by_hybrid_logical_clock(
    pair, first, wall
):
    a, b = pair
    await _note_on_both(a, b, title="base", body="body")
    await b.model("Note").update("n1", {"title": "earlier, on B"})
    wall.tick()
    await a.model("Note").update("n1", {"title": "later, on A"})

    order = ((a, b), (b, a)) if first == "a-to-b-first" else ((b, a), (a, b))
    results = [await sync(src, dst) for src, dst in order]

    assert statuses(results[0]) == {"n1": UpdateStatus.MERGED}
    assert all(r.conflicts == [] for r in results)
    for repo in (a, b):
        assert await repo.model("Note").get("n1") == {
            "id": "n1",
            "title": "later, on A",
            "body": "body",
        }
    assert await snapshot(a) == await snapshot(b)


async def test_later_write_wins_even_when_the_earlier_writer_is_the_target(pair, wall):
    a, b = pair
    await _note_on_both(a, b, title="base")
    await a.model("Note").update("n1", {"title": "earlier, on A (source)"})
    wall.tick()
    await b.model("Note").update("n1", {"title": "later, on B (target)"})

    result = await sync(a, b)

    assert result.updates[0].data["title"] == "later, on B (target)"
    await sync(b, a)
    assert (await a.model("Note").get("n1"))["title"] == "later, on B (target)"


async def test_a_field_only_one_side_changed_keeps_that_change_even_if_older(pair, wall):
    a, b = pair
    await _note_on_both(a, b, title="base title", body="base body")
    await a.model("Note").update("n1", {"body": "A's body, written first"})
    wall.tick()
    await b.model("Note").update("n1", {"title": "B's title, written later"})

    await sync_both(a, b)

    expected = {"id": "n1", "title": "B's title, written later", "body": "A's body, written first"}
    assert await a.model("Note").get("n1") == await b.model("Note").get("n1") == expected


async def test_tags_merge_as_a_union_in_order_without_duplicates_and_removals_stay_removed(
    pair, wall
):
    a, b = pair
    await _note_on_both(a, b, tags=["x", "y", "z"])
    a_tags = ["x", "z", "a1", "a2"]  # removed y, added a1, a2
    b_tags = ["x", "y", "z", "b1", "a1"]  # added b1 and (also) a1
    await a.model("Note").update("n1", {"tags": a_tags})
    wall.tick()
    await b.model("Note").update("n1", {"tags": b_tags})

    merged = await sync(a, b)
    await sync(b, a)

    tags = merged.updates[0].data["tags"]
    assert sorted(tags) == ["a1", "a2", "b1", "x", "z"]
    assert len(tags) == len(set(tags))
    assert "y" not in tags
    assert _is_subsequence([t for t in b_tags if t in tags], tags)
    assert _is_subsequence([t for t in a_tags if t in tags], tags)
    for repo in (a, b):
        assert (await repo.model("Note").get("n1"))["tags"] == tags
    assert await snapshot(a) == await snapshot(b)


async def test_a_tag_removed_on_one_side_stays_removed_when_the_other_side_only_adds(pair):
    a, b = pair
    await _note_on_both(a, b, tags=["keep", "drop"])
    await a.model("Note").update("n1", {"tags": ["keep"]})
    await b.model("Note").update("n1", {"tags": ["keep", "drop", "new"]})

    await sync_both(a, b)

    for repo in (a, b):
        assert (await repo.model("Note").get("n1"))["tags"] == ["keep", "new"]


async def test_views_merge_to_the_maximum(pair, wall):
    a, b = pair
    await _note_on_both(a, b, views=3)
    await a.model("Note").update("n1", {"views": 10})
    wall.tick()
    await b.model("Note").update("n1", {"views": 7})  # later, but smaller

    await sync_both(a, b)

    for repo in (a, b):
        assert (await repo.model("Note").get("n1"))["views"] == 10


async def test_concurrent_note_edits_on_every_field_merge_identically_in_both_directions(
    pair, wall
):
    a, b = pair
    await _note_on_both(a, b, title="t", body="b", tags=["x"], views=1)
    await a.model("Note").update("n1", {"title": "tA", "tags": ["x", "a"], "views": 5})
    wall.tick()
    await b.model("Note").update("n1", {"body": "bB", "tags": ["x", "b"], "views": 4})

    ab = await sync(a, b)
    ba = await sync(b, a)

    assert statuses(ab) == {"n1": UpdateStatus.MERGED}
    assert statuses(ba) == {"n1": UpdateStatus.APPLIED}
    doc = await a.model("Note").get("n1")
    assert doc == await b.model("Note").get("n1")
    assert (doc["title"], doc["body"], doc["views"]) == ("tA", "bB", 5)
    assert sorted(doc["tags"]) == ["a", "b", "x"]
    assert await snapshot(a) == await snapshot(b)


async def test_each_side_merging_the_same_concurrent_pair_reaches_the_same_rev(pair, wall):
    a, b = pair
    await _note_on_both(a, b, title="t", tags=["x"], views=1)
    since_a, since_b = await a.model("Note").checkpoint(), await b.model("Note").checkpoint()
    await a.model("Note").update("n1", {"title": "tA", "tags": ["x", "a"], "views": 2})
    wall.tick()
    await b.model("Note").update("n1", {"title": "tB", "tags": ["b", "x"], "views": 3})
    from_a = (await a.model("Note").changes(since_a)).changes
    from_b = (await b.model("Note").changes(since_b)).changes

    # Each side receives the other's concurrent version and merges it on its own.
    on_b = await b.model("Note").bulk_update([Update.from_change(c) for c in from_a])
    on_a = await a.model("Note").bulk_update([Update.from_change(c) for c in from_b])

    assert [r.status for r in on_a.results] == [UpdateStatus.MERGED]
    assert [r.status for r in on_b.results] == [UpdateStatus.MERGED]
    assert on_a.results[0].rev == on_b.results[0].rev
    assert on_a.results[0].data == on_b.results[0].data
    assert on_a.results[0].data["title"] == "tB"
    await sync_both(a, b)
    assert await snapshot(a) == await snapshot(b)


@pytest.mark.parametrize("later_side", ["deletion-later", "edit-later"])
@pytest.mark.parametrize("first", ["deleter-to-editor-first", "editor-to-deleter-first"])
async def test_delete_against_concurrent_note_update_is_settled_by_the_later_stamp(
    pair, later_side, first, wall
):
    a, b = pair  # A deletes, B edits
    note = "t1:n1"  # a tenant's document: its tombstone keeps tenantId
    await _note_on_both(a, b, id=note, title="base", tenantId="t1")
    if later_side == "deletion-later":
        await b.model("Note").update(note, {"title": "edited"})
        wall.tick()
        await a.model("Note").delete(note)
    else:
        await a.model("Note").delete(note)
        wall.tick()
        await b.model("Note").update(note, {"title": "edited"})

    order = ((a, b), (b, a)) if first == "deleter-to-editor-first" else ((b, a), (a, b))
    results = [await sync(src, dst) for src, dst in order]

    assert all(r.conflicts == [] for r in results)
    assert statuses(results[0]) == {note: UpdateStatus.MERGED}
    expected = (
        None
        if later_side == "deletion-later"
        else {
            "id": note,
            "title": "edited",
            "tenantId": "t1",
        }
    )
    for repo in (a, b):
        assert await repo.model("Note").get(note) == expected
        assert await repo.model("Note").conflicts() == []
    assert await snapshot(a) == await snapshot(b)
    # Settled for good: further rounds change nothing.
    for src, dst in order:
        assert UpdateStatus.MERGED not in (await sync(src, dst)).counts


# -- strategies on a test-only model ------------------------------------------------------

_calls: list[FieldConflict] = []


def _add_both_deltas(c: FieldConflict) -> int:
    """A counter merge: both sides' increments since the base count."""
    _calls.append(c)
    base = c.base or 0
    return base + (c.source - base) + (c.target - base)


Gadget = Model(
    "Gadget",
    fields=(
        Field("label", FieldType.STRING, Strategy.SOURCE_WINS),
        Field("owner", FieldType.STRING, Strategy.TARGET_WINS),
        Field("price", FieldType.FLOAT, Strategy.MIN),
        Field("count", FieldType.INT, Custom("add-both-deltas", _add_both_deltas)),
        Field("notes", FieldType.STRING),  # the default: MANUAL
    ),
)


@pytest.fixture
async def gadgets(open_replicas):
    a, b = await open_replicas(2, registry=Registry([Gadget]))
    await a.model("Gadget").create(
        {"id": "g1", "label": "base", "owner": "base", "price": 10.0, "count": 100, "notes": "n"}
    )
    await sync_both(a, b, "Gadget")
    _calls.clear()
    return a, b


async def test_source_wins_target_wins_min_and_a_custom_strategy_merge_their_fields(gadgets, wall):
    a, b = gadgets
    await a.model("Gadget").update("g1", {"label": "A", "owner": "A", "price": 12.5, "count": 103})
    wall.tick()
    await b.model("Gadget").update("g1", {"label": "B", "owner": "B", "price": 9.5, "count": 110})

    result = await sync(a, b, "Gadget")

    assert statuses(result) == {"g1": UpdateStatus.MERGED}
    assert result.conflicts == []
    assert await b.model("Gadget").get("g1") == {
        "id": "g1",
        "label": "A",  # SOURCE_WINS: the replicating side's value
        "owner": "B",  # TARGET_WINS: the receiving side's value
        "price": 9.5,  # MIN
        "count": 113,  # custom: 100 + 3 + 10
        "notes": "n",  # changed by neither side
    }
    (call,) = _calls
    assert (call.field, call.base, call.source, call.target) == ("count", 100, 103, 110)
    assert call.source_stamp is not None
    assert call.target_stamp is not None
    assert call.target_stamp > call.source_stamp  # B wrote later


async def test_source_wins_and_target_wins_are_judged_from_the_target_doing_the_merge(gadgets):
    a, b = gadgets
    await a.model("Gadget").update("g1", {"label": "A", "owner": "A"})
    await b.model("Gadget").update("g1", {"label": "B", "owner": "B"})

    await sync(b, a, "Gadget")  # this time A is the target

    assert await a.model("Gadget").get("g1") == {
        "id": "g1",
        "label": "B",
        "owner": "A",
        "price": 10.0,
        "count": 100,
        "notes": "n",
    }


async def test_min_ignores_which_side_wrote_later(gadgets, wall):
    a, b = gadgets
    await b.model("Gadget").update("g1", {"price": 3.0})
    wall.tick()
    await a.model("Gadget").update("g1", {"price": 4.0})

    await sync(a, b, "Gadget")

    assert (await b.model("Gadget").get("g1"))["price"] == 3.0


async def test_one_manual_field_changed_by_both_sides_makes_the_whole_update_a_conflict(gadgets):
    a, b = gadgets
    await a.model("Gadget").update("g1", {"price": 1.0, "notes": "from A"})
    await b.model("Gadget").update("g1", {"price": 2.0, "notes": "from B"})
    before = await b.model("Gadget").get("g1")

    result = await sync(a, b, "Gadget")

    assert statuses(result) == {"g1": UpdateStatus.CONFLICT}
    assert sorted(result.conflicts[0].fields) == ["notes", "price"]
    assert await b.model("Gadget").get("g1") == before


async def test_custom_strategy_as_a_model_default_applies_to_undeclared_fields(open_replicas):
    def longest(c: FieldConflict) -> str:
        return max(c.source, c.target, key=lambda v: (len(v), v))

    Memo = Model(
        "Memo",
        fields=(Field("text"), Field("author")),
        default_strategy=Custom("longest", longest),
    )
    a, b = await open_replicas(2, registry=Registry([Memo]))
    await a.model("Memo").create({"id": "m1", "text": "hi", "author": "x"})
    await sync_both(a, b, "Memo")
    await a.model("Memo").update("m1", {"text": "hello there", "author": "al"})
    await b.model("Memo").update("m1", {"text": "hello", "author": "bobby"})

    await sync_both(a, b, "Memo")

    expected = {"id": "m1", "text": "hello there", "author": "bobby"}
    assert await a.model("Memo").get("m1") == await b.model("Memo").get("m1") == expected


async def test_latest_follows_real_writes_not_the_stamp_of_a_side_that_reverted_the_field(
    trio, wall
):
    """A replica that changed a field and changed it back made no change to it; its later
    stamp must not travel with the other side's value and beat a genuinely later write."""
    a, b, c = trio
    await a.model("Note").create({"id": "n1", "title": "t0"})
    await sync(a, b)
    await sync(a, c)
    await b.model("Note").update("n1", {"title": "B, first"})
    wall.tick()
    await c.model("Note").update("n1", {"title": "C, second"})
    wall.tick()
    await a.model("Note").update("n1", {"title": "x"})
    await a.model("Note").update("n1", {"title": "t0", "body": "A"})  # title back to t0

    await sync(a, b)  # B merges: the title is B's (A's net title change is none)
    await sync(c, b)  # C's title was written after B's: it wins
    for src, dst in ((b, a), (b, c)):
        await sync(src, dst)

    for repo in trio:
        assert await repo.model("Note").get("n1") == {"id": "n1", "title": "C, second", "body": "A"}


async def test_independent_creates_of_one_note_keep_the_fields_only_one_side_wrote(pair, wall):
    a, b = pair
    await a.model("Note").create({"id": "n1", "title": "from A"})
    wall.tick()
    await b.model("Note").create({"id": "n1", "body": "from B"})

    await sync_both(a, b)

    expected = {"id": "n1", "title": "from A", "body": "from B"}
    assert await a.model("Note").get("n1") == await b.model("Note").get("n1") == expected


async def test_each_side_merging_independent_creates_reaches_the_same_document(pair, wall):
    a, b = pair
    await a.model("Note").create({"id": "n1", "title": "from A", "tags": ["a"]})
    wall.tick()
    await b.model("Note").create({"id": "n1", "body": "from B", "tags": ["b"]})
    from_a = (await a.model("Note").changes()).changes
    from_b = (await b.model("Note").changes()).changes

    on_b = await b.model("Note").bulk_update([Update.from_change(c) for c in from_a])
    on_a = await a.model("Note").bulk_update([Update.from_change(c) for c in from_b])

    assert on_a.results[0].data == on_b.results[0].data
    assert on_a.results[0].rev == on_b.results[0].rev
