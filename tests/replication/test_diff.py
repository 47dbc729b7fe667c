"""diff(since, changes): which remote changes are deltas and which conflict (CONTRACT §2)."""

from __future__ import annotations

import pytest

from graphql_repl import BadInput
from graphql_repl.replication import ChangeInput, ChangeType

from .helpers import sync, sync_both


async def _remote_changes(repo, since=None, model="User", with_revs=False):
    """The replica's changes as a client sends them to diff (rev and prev only, by default)."""
    page = await repo.model(model).changes(since)
    return [
        ChangeInput(c.model_id, c.type, c.rev, c.prev, c.revs if with_revs else None)
        for c in page.changes
    ]


def _ids(diff):
    return [d.model_id for d in diff.deltas], [c.model_id for c in diff.conflicts]


async def test_change_to_a_document_this_side_lacks_is_a_delta(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})

    diff = await b.model("User").diff(None, await _remote_changes(a))

    assert _ids(diff) == (["u1"], [])
    (delta,) = diff.deltas
    (remote,) = (await a.model("User").changes()).changes
    assert (delta.type, delta.rev, delta.prev) == (ChangeType.CREATE, remote.rev, None)


async def test_remote_update_of_a_document_this_side_left_alone_is_a_delta(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").update("u1", {"name": "Anna"})
    await a.model("User").update("u1", {"name": "Anna 2"})  # prev no longer B's rev

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == (["u1"], [])


async def test_remote_change_concurrent_with_a_local_change_after_since_is_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").update("u1", {"name": "Ann from A"})
    local = await b.model("User").update("u1", {"name": "Ann from B"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == ([], ["u1"])
    (conflict,) = diff.conflicts
    assert conflict.target_data == local
    assert conflict.source_rev == (await a.model("User").changes()).changes[0].rev


async def test_remote_change_concurrent_with_a_local_change_before_since_is_a_delta(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    await b.model("User").update("u1", {"name": "Ann from B"})
    since = await b.model("User").checkpoint()  # B's edit is before since
    await a.model("User").update("u1", {"name": "Ann from A"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == (["u1"], [])


async def test_without_since_every_concurrent_local_change_is_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    await b.model("User").update("u1", {"name": "Ann from B"})
    await a.model("User").update("u1", {"name": "Ann from A"})

    diff = await b.model("User").diff(None, await _remote_changes(a))

    assert _ids(diff) == ([], ["u1"])


async def test_remote_change_based_on_the_local_change_made_after_since_is_a_delta(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await b.model("User").update("u1", {"name": "Ann from B"})
    await sync(b, a, "User")
    await a.model("User").update("u1", {"name": "Ann from A, after seeing B"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == (["u1"], [])


async def test_remote_chain_of_edits_based_on_the_local_change_is_a_delta_given_its_revs(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await b.model("User").update("u1", {"name": "Ann from B"})
    await sync(b, a, "User")
    for i in range(3):
        await a.model("User").update("u1", {"name": f"Ann from A {i}"})

    diff = await b.model("User").diff(since, await _remote_changes(a, with_revs=True))

    assert _ids(diff) == (["u1"], [])


async def test_both_sides_deleted_is_neither_delta_nor_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").update("u1", {"name": "Ann from A"})
    await a.model("User").delete("u1")
    await b.model("User").update("u1", {"name": "Ann from B"})
    await b.model("User").delete("u1")

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == ([], [])


async def test_both_sides_at_the_same_rev_is_neither_delta_nor_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").update("u1", {"name": "Anna"})
    await b.model("User").update("u1", {"name": "Anna"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == ([], [])


async def test_remote_change_this_side_already_built_on_is_not_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await b.model("User").update("u1", {"name": "Ann from B"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert diff.conflicts == []


async def test_remote_deletion_concurrent_with_a_local_update_after_since_is_a_conflict(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").delete("u1")
    await b.model("User").update("u1", {"name": "Ann from B"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    assert _ids(diff) == ([], ["u1"])
    assert diff.conflicts[0].source_rev is None


async def test_diff_sorts_a_mixed_batch_into_deltas_and_conflicts(pair):
    a, b = pair
    for i in range(1, 5):
        await a.model("User").create({"id": f"u{i}", "name": f"n{i}"})
    await sync_both(a, b, "User")
    since = await b.model("User").checkpoint()
    await a.model("User").create({"id": "new", "name": "new"})  # delta
    await a.model("User").update("u1", {"name": "A"})  # delta: B left u1 alone
    await a.model("User").update("u2", {"name": "A"})  # conflict: B changed u2 too
    await b.model("User").update("u2", {"name": "B"})
    await a.model("User").delete("u3")  # nothing: both deleted
    await b.model("User").delete("u3")
    await a.model("User").update("u4", {"name": "same"})  # nothing: same rev
    await b.model("User").update("u4", {"name": "same"})

    diff = await b.model("User").diff(since, await _remote_changes(a))

    deltas, conflicts = _ids(diff)
    assert sorted(deltas) == ["new", "u1"]
    assert conflicts == ["u2"]


@pytest.mark.parametrize(
    "change",
    [
        ChangeInput("", ChangeType.CREATE, "r1"),
        ChangeInput("u1", ChangeType.DELETE, "r1", "r0"),
        ChangeInput("u1", ChangeType.UPDATE, None, "r0"),
    ],
    ids=["empty-model-id", "delete-with-rev", "update-without-rev"],
)
async def test_diff_rejects_malformed_changes(pair, change):
    a, _ = pair
    with pytest.raises(BadInput):
        await a.model("User").diff(None, [change])


async def test_diff_with_a_checkpoint_from_another_replica_is_bad_input(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    foreign = await a.model("User").checkpoint()

    with pytest.raises(BadInput):
        await b.model("User").diff(foreign, await _remote_changes(a))
