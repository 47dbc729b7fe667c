"""Create, update and delete flowing in either direction, fast-forwards, echoes and chains."""

from __future__ import annotations

import pytest

from graphql_repl.replication import ChangeType, UpdateStatus

from .helpers import snapshot, statuses, sync, sync_both


async def test_create_on_source_is_applied_on_target(pair):
    a, b = pair
    doc = await a.model("Note").create({"id": "n1", "title": "hello", "tags": ["x"], "views": 1})

    result = await sync(a, b)

    assert statuses(result) == {"n1": UpdateStatus.APPLIED}
    assert await b.model("Note").get("n1") == doc
    assert await snapshot(a) == await snapshot(b)


async def test_creates_on_both_sides_reach_the_other_side(pair):
    a, b = pair
    await a.model("Note").create({"id": "from-a", "title": "A"})
    await b.model("Note").create({"id": "from-b", "title": "B"})

    await sync_both(a, b)

    for repo in (a, b):
        assert [d["id"] for d in await repo.model("Note").find()] == ["from-a", "from-b"]
    assert await snapshot(a) == await snapshot(b)


@pytest.mark.parametrize("writer", [0, 1], ids=["update-on-first", "update-on-second"])
async def test_update_on_either_side_is_applied_on_the_other(pair, writer):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann", "email": "ann@x"})
    await sync_both(a, b, "User")
    src, dst = (a, b) if writer == 0 else (b, a)

    await src.model("User").update("u1", {"email": "ann@new"})
    result = await sync(src, dst, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED}
    assert await dst.model("User").get("u1") == {"id": "u1", "name": "Ann", "email": "ann@new"}
    assert await dst.model("User").conflicts() == []


@pytest.mark.parametrize("writer", [0, 1], ids=["delete-on-first", "delete-on-second"])
async def test_delete_on_either_side_is_applied_on_the_other(pair, writer):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await a.model("User").create({"id": "u2", "name": "Bob"})
    await sync_both(a, b, "User")
    src, dst = (a, b) if writer == 0 else (b, a)

    assert await src.model("User").delete("u1") is True
    result = await sync(src, dst, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED, "u2": UpdateStatus.UNCHANGED}
    assert await dst.model("User").get("u1") is None
    assert [d["id"] for d in await dst.model("User").find()] == ["u2"]
    page = await dst.model("User").changes()
    deletion = next(c for c in page.changes if c.model_id == "u1")
    assert (deletion.type, deletion.rev, deletion.data) == (ChangeType.DELETE, None, None)
    assert await dst.model("User").conflicts() == []


async def test_delete_of_a_document_the_target_never_had_raises_no_conflict(pair):
    a, b = pair
    users_a = a.model("User")
    await users_a.create({"id": "u1", "name": "Ann"})
    await users_a.delete("u1")

    result = await sync(a, b, "User")

    assert statuses(result)["u1"] in (UpdateStatus.APPLIED, UpdateStatus.UNCHANGED)
    assert result.conflicts == []
    assert await b.model("User").get("u1") is None
    assert await b.model("User").find() == []


@pytest.mark.parametrize("model", ["Note", "User"])
async def test_deletion_is_relayed_through_a_replica_that_never_had_the_document(trio, model):
    a, b, c = trio
    await a.model(model).create({"id": "d1"})
    await sync(a, c, model)  # C has the document, B never does
    await a.model(model).delete("d1")
    await sync(a, b, model)

    relayed = await sync(b, c, model)

    assert relayed.conflicts == []
    assert await c.model(model).get("d1") is None


async def test_both_sides_deleting_the_same_document_is_not_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync_both(a, b, "User")
    await a.model("User").delete("u1")
    await b.model("User").delete("u1")

    ab = await sync(a, b, "User")
    ba = await sync(b, a, "User")

    assert statuses(ab) == statuses(ba) == {"u1": UpdateStatus.UNCHANGED}
    assert ab.conflicts == ba.conflicts == []
    for repo in (a, b):
        assert await repo.model("User").get("u1") is None
        assert await repo.model("User").conflicts() == []


async def test_both_sides_making_the_same_edit_is_not_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync_both(a, b, "User")
    await a.model("User").update("u1", {"name": "Anna"})
    await b.model("User").update("u1", {"name": "Anna"})

    ab = await sync(a, b, "User")
    ba = await sync(b, a, "User")

    assert statuses(ab) == statuses(ba) == {"u1": UpdateStatus.UNCHANGED}
    assert ab.conflicts == ba.conflicts == []
    assert await snapshot(a, "User") == await snapshot(b, "User")


async def test_independent_creates_with_equal_content_have_the_same_rev_and_do_not_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann", "email": "a@x"})
    await b.model("User").create({"email": "a@x", "name": "Ann", "id": "u1"})

    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.UNCHANGED}
    assert result.conflicts == []
    assert await snapshot(a, "User") == await snapshot(b, "User")


async def test_independent_creates_with_different_content_conflict_on_a_manual_model(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await b.model("User").create({"id": "u1", "name": "Anne"})

    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.CONFLICT}
    assert [c.fields for c in result.conflicts] == [["name"]]
    assert await b.model("User").get("u1") == {"id": "u1", "name": "Anne"}


async def test_many_edits_on_the_source_between_syncs_fast_forward_the_untouched_target(pair):
    a, b = pair
    users = a.model("User")
    await users.create({"id": "u1", "name": "v0"})
    await sync(a, b, "User")

    for i in range(1, 6):
        await users.update("u1", {"name": f"v{i}"})
    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED}
    assert result.conflicts == []
    assert await b.model("User").get("u1") == {"id": "u1", "name": "v5"}
    assert await b.model("User").conflicts() == []


async def test_echo_of_a_replicated_change_is_unchanged_and_writes_nothing(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    before = await a.model("User").checkpoint()

    echo = await sync(b, a, "User")

    assert statuses(echo) == {"u1": UpdateStatus.UNCHANGED}
    assert await a.model("User").checkpoint() == before
    assert (await a.model("User").changes(before)).changes == []


async def test_a_stale_version_arriving_late_is_unchanged_and_keeps_the_newer_one(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "old"})
    first = await sync(a, b, "User")
    await b.model("User").update("u1", {"name": "new"})

    # A full re-run (no checkpoints) sends B the old version again.
    again = await sync(a, b, "User")

    assert first.conflicts == again.conflicts == []
    assert statuses(again) == {"u1": UpdateStatus.UNCHANGED}
    assert await b.model("User").get("u1") == {"id": "u1", "name": "new"}


async def test_chain_a_to_b_to_c_then_change_on_c_flows_back_to_a_without_conflict(trio):
    a, b, c = trio
    users_a = a.model("User")
    await users_a.create({"id": "u1", "name": "Ann", "email": "a@x"})
    await users_a.update("u1", {"name": "Anna"})
    assert (await sync(a, b, "User")).conflicts == []
    assert (await sync(b, c, "User")).conflicts == []

    await c.model("User").update("u1", {"email": "anna@c"})
    await c.model("User").update("u1", {"name": "Anna C"})
    back = await sync(c, a, "User")

    assert statuses(back) == {"u1": UpdateStatus.APPLIED}
    assert back.conflicts == []
    assert await users_a.get("u1") == {"id": "u1", "name": "Anna C", "email": "anna@c"}
    # And around the ring once more: nothing conflicts, all three agree.
    for src, dst in ((a, b), (b, c), (c, a), (a, b)):
        assert (await sync(src, dst, "User")).conflicts == []
    assert await snapshot(a, "User") == await snapshot(b, "User") == await snapshot(c, "User")
    for repo in trio:
        assert await repo.model("User").conflicts() == []


async def test_change_made_on_a_chain_end_reaches_the_other_end_through_the_middle(trio):
    a, b, c = trio
    await c.model("User").create({"id": "u1", "name": "from C"})
    await sync(c, b, "User")
    await sync(b, a, "User")
    await a.model("User").update("u1", {"name": "edited on A"})
    await sync(a, b, "User")

    result = await sync(b, c, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED}
    assert await c.model("User").get("u1") == {"id": "u1", "name": "edited on A"}


async def test_delete_then_recreate_flows_to_a_replica_that_saw_the_delete(pair):
    a, b = pair
    users_a = a.model("User")
    await users_a.create({"id": "u1", "name": "first"})
    await sync(a, b, "User")
    await users_a.delete("u1")
    await sync(a, b, "User")
    await users_a.create({"id": "u1", "name": "second"})

    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED}
    assert result.conflicts == []
    assert await b.model("User").get("u1") == {"id": "u1", "name": "second"}


async def test_delete_then_recreate_flows_to_a_replica_that_missed_the_delete(pair):
    a, b = pair
    users_a = a.model("User")
    await users_a.create({"id": "u1", "name": "first"})
    await sync(a, b, "User")
    await users_a.delete("u1")
    await users_a.create({"id": "u1", "name": "second"})

    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.APPLIED}
    assert await b.model("User").get("u1") == {"id": "u1", "name": "second"}


@pytest.mark.parametrize("model", ["Note", "User"])
async def test_reverting_a_document_to_an_earlier_content_reaches_a_replica_that_saw_the_middle(
    pair, model
):
    """A→B→A: the content returns to an earlier revision. The revert is a newer version and
    must reach a replica that already has the intermediate one (and not be taken for a stale
    copy of the first)."""
    a, b = pair
    field = "title" if model == "Note" else "name"
    docs_a = a.model(model)
    await docs_a.create({"id": "d1", field: "first"})
    await sync(a, b, model)
    await docs_a.update("d1", {field: "second"})
    await sync(a, b, model)
    await docs_a.update("d1", {field: "first"})

    forward = await sync(a, b, model)
    backward = await sync(b, a, model)

    assert forward.conflicts == backward.conflicts == []
    assert await b.model(model).get("d1") == {"id": "d1", field: "first"}
    assert await docs_a.get("d1") == {"id": "d1", field: "first"}
