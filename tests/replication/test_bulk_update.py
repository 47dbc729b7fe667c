"""bulk_update: per-update statuses, rejection of bad updates, and the change log."""

from __future__ import annotations

import pytest

from graphql_repl import BadInput
from graphql_repl.replication import ChangeType, Update, UpdateStatus, rev_of

from .helpers import sync, sync_both


def _create(model_id, **fields):
    data = {"id": model_id, **fields}
    return Update(model_id, ChangeType.CREATE, data, rev_of(data), None)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Update("bad", ChangeType.CREATE, {"id": "bad", "views": "many"}), "views"),
        (Update("bad", ChangeType.UPDATE, None, prev="r0"), "data"),
        (Update("bad", ChangeType.CREATE, {"id": "bad", "colour": "red"}), "colour"),
        (Update("bad", ChangeType.CREATE, {"id": "other", "title": "t"}), "other"),
        (Update("bad", ChangeType.CREATE, ["not", "an", "object"]), "object"),
        (Update("", ChangeType.CREATE, {"title": "t"}), "modelId"),
    ],
    ids=["wrong-type", "missing-data", "unknown-field", "id-mismatch", "not-an-object", "no-id"],
)
async def test_a_bad_update_in_the_middle_is_rejected_alone(pair, bad, message):
    a, _ = pair
    notes = a.model("Note")
    updates = [_create("n1", title="one"), _create("n2", title="two"), bad, _create("n3", views=3)]

    result = await notes.bulk_update(updates)

    assert [r.status for r in result.results] == [
        UpdateStatus.APPLIED,
        UpdateStatus.APPLIED,
        UpdateStatus.REJECTED,
        UpdateStatus.APPLIED,
    ]
    rejected = result.results[2]
    assert rejected.error is not None
    assert message in rejected.error
    assert rejected.rev is None
    assert rejected.data is None
    assert [d["id"] for d in await notes.find()] == ["n1", "n2", "n3"]
    assert await notes.get("bad") is None
    assert await notes.get("other") is None
    assert result.checkpoint == await notes.checkpoint()


async def test_a_rejected_update_does_not_touch_an_existing_document(pair):
    a, _ = pair
    notes = a.model("Note")
    await notes.create({"id": "n1", "title": "kept"})
    before = await notes.checkpoint()

    result = await notes.bulk_update([Update("n1", ChangeType.UPDATE, {"id": "n1", "views": 1.5})])

    (rejected,) = result.results
    assert rejected.status is UpdateStatus.REJECTED
    # The result carries the document as it stays, so a client can revert to it.
    assert rejected.data == {"id": "n1", "title": "kept"}
    assert rejected.rev == rev_of(rejected.data)
    assert await notes.get("n1") == {"id": "n1", "title": "kept"}
    assert await notes.checkpoint() == before


async def test_bulk_update_reports_applied_unchanged_merged_and_conflict(pair):
    a, b = pair
    for repo in (a, b):
        await repo.model("User").create({"id": "same", "name": "S"})
    await a.model("User").create({"id": "clash", "name": "base"})
    await a.model("User").create({"id": "fields", "name": "base", "email": "base@x"})
    await sync_both(a, b, "User")
    since = await a.model("User").checkpoint()
    await a.model("User").create({"id": "fresh", "name": "F"})
    await a.model("User").update("clash", {"name": "A"})
    await b.model("User").update("clash", {"name": "B"})
    await a.model("User").update("fields", {"name": "A"})
    await b.model("User").update("fields", {"email": "b@x"})
    await a.model("User").update("same", {"name": "S2"})
    await b.model("User").update("same", {"name": "S2"})
    changes = (await a.model("User").changes(since)).changes

    result = await b.model("User").bulk_update([Update.from_change(c) for c in changes])

    by_id = {r.model_id: r for r in result.results}
    assert {k: r.status for k, r in by_id.items()} == {
        "fresh": UpdateStatus.APPLIED,
        "clash": UpdateStatus.CONFLICT,
        "fields": UpdateStatus.MERGED,
        "same": UpdateStatus.UNCHANGED,
    }
    assert by_id["fresh"].data == {"id": "fresh", "name": "F"}
    assert by_id["fields"].data == {"id": "fields", "name": "A", "email": "b@x"}
    # Every result carries the target's state after the update, whatever its status.
    assert by_id["clash"].data == {"id": "clash", "name": "B"}
    assert by_id["same"].data == {"id": "same", "name": "S2"}
    assert by_id["clash"].rev == rev_of(by_id["clash"].data)
    assert [c.model_id for c in result.conflicts] == ["clash"]
    assert await b.model("User").get("clash") == {"id": "clash", "name": "B"}
    assert await b.model("User").get("fields") == by_id["fields"].data


async def test_the_results_rev_is_computed_from_data_not_taken_from_the_update(pair):
    a, _ = pair
    data = {"id": "n1", "title": "t"}

    result = await a.model("Note").bulk_update(
        [Update("n1", ChangeType.CREATE, data, rev="not-the-real-rev")]
    )

    assert result.results[0].rev == rev_of(data)
    assert (await a.model("Note").changes()).changes[0].rev == rev_of(data)


async def test_update_whose_prev_is_not_the_targets_rev_merges_or_conflicts(pair):
    a, _ = pair
    users = a.model("User")
    await users.create({"id": "u1", "name": "current", "email": "e"})

    result = await users.bulk_update(
        [Update("u1", ChangeType.UPDATE, {"id": "u1", "name": "other", "email": "e"}, prev="r-old")]
    )

    # prev unknown: every differing field counts as changed by both sides.
    assert result.results[0].status is UpdateStatus.CONFLICT
    assert result.conflicts[0].fields == ["name"]
    assert await users.get("u1") == {"id": "u1", "name": "current", "email": "e"}


async def test_update_already_at_the_targets_rev_is_unchanged_whatever_its_prev(pair):
    a, _ = pair
    users = a.model("User")
    doc = await users.create({"id": "u1", "name": "n"})

    result = await users.bulk_update([Update("u1", ChangeType.UPDATE, dict(doc), prev="zzz")])

    assert result.results[0].status is UpdateStatus.UNCHANGED
    assert result.results[0].rev == rev_of(doc)
    assert result.conflicts == []
    assert await users.conflicts() == []
    assert await users.get("u1") == doc


async def test_update_at_the_targets_prev_is_applied_and_logged_as_one_change(pair):
    a, _ = pair
    users = a.model("User")
    doc = await users.create({"id": "u1", "name": "n"})
    since = await users.checkpoint()
    new = {"id": "u1", "name": "m"}

    result = await users.bulk_update([Update("u1", ChangeType.UPDATE, new, prev=rev_of(doc))])

    assert result.results[0].status is UpdateStatus.APPLIED
    (change,) = (await users.changes(since)).changes
    assert (change.type, change.rev, change.prev, change.data) == (
        ChangeType.UPDATE,
        rev_of(new),
        rev_of(doc),
        new,
    )
    assert result.checkpoint == change.checkpoint


async def test_deletion_at_the_targets_rev_is_applied(pair):
    a, _ = pair
    users = a.model("User")
    doc = await users.create({"id": "u1", "name": "n"})

    result = await users.bulk_update([Update("u1", ChangeType.DELETE, prev=rev_of(doc))])

    assert result.results[0].status is UpdateStatus.APPLIED
    assert await users.get("u1") is None


async def test_incoming_clock_stamps_decide_latest_and_move_the_local_clock_past_them(pair, wall):
    a, b = pair
    await a.model("Note").create({"id": "n1", "title": "base"})
    await sync(a, b)
    await a.model("Note").update("n1", {"title": "A"})
    wall.tick()
    await b.model("Note").update("n1", {"title": "B"})
    change = (await a.model("Note").changes()).changes[0]
    far = "f" * 12 + "0000" + "peer"  # far in the future: used to compare, never adopted
    near = f"{int(change.clock['title'][:12], 16) + 60_000:012x}0000peer"  # one minute ahead
    update = Update.from_change(change)
    update.clock = {**change.clock, "title": near}

    result = await b.model("Note").bulk_update([update])

    assert result.results[0].status is UpdateStatus.MERGED
    assert result.results[0].data["title"] == "A"  # the stamp sent, not B's write time, wins
    # The clock moved past the stamp it saw: B's next write is later still.
    await b.model("Note").update("n1", {"body": "after"})
    (latest,) = (await b.model("Note").changes()).changes
    assert latest.clock["body"] > near
    # A stamp beyond the drift bound is not adopted by the clock.
    update.clock = {"title": far}
    await b.model("Note").bulk_update([update])
    await b.model("Note").update("n1", {"body": "after again"})
    (latest,) = (await b.model("Note").changes()).changes
    assert latest.clock["body"] < far


async def test_malformed_clock_stamps_are_ignored(pair):
    a, _ = pair
    data = {"id": "n1", "title": "t"}

    result = await a.model("Note").bulk_update(
        [Update("n1", ChangeType.CREATE, data, clock={"title": "not-a-stamp", "body": 5})]
    )

    assert result.results[0].status is UpdateStatus.APPLIED
    (change,) = (await a.model("Note").changes()).changes
    assert change.clock["title"] != "not-a-stamp"


async def test_unknown_model_is_bad_input(pair):
    a, _ = pair
    with pytest.raises(BadInput):
        a.model("Nope")
