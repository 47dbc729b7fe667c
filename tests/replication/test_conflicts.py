"""Concurrent edits on a MANUAL model: reported, not written, listed, and resolved."""

from __future__ import annotations

import pytest

from graphql_repl import BadInput, NotFound
from graphql_repl.replication import Resolution, UpdateStatus

from .helpers import snapshot, statuses, sync, sync_both


async def _concurrent_user_edits(a, b):
    await a.model("User").create({"id": "u1", "name": "Ann", "email": "ann@x"})
    await a.model("User").create({"id": "u2", "name": "Bob"})
    await sync_both(a, b, "User")
    await a.model("User").update("u1", {"name": "Ann from A"})
    await b.model("User").update("u1", {"name": "Ann from B"})


async def test_concurrent_edits_of_the_same_field_on_a_manual_model_conflict(pair):
    a, b = pair
    await _concurrent_user_edits(a, b)
    target_before = await b.model("User").get("u1")
    checkpoint_before = await b.model("User").checkpoint()

    result = await sync(a, b, "User")

    assert statuses(result)["u1"] is UpdateStatus.CONFLICT
    assert statuses(result)["u2"] is UpdateStatus.UNCHANGED
    assert result.counts[UpdateStatus.CONFLICT] == 1
    (conflict,) = result.conflicts
    assert (conflict.model, conflict.model_id, conflict.fields) == ("User", "u1", ["name"])
    assert conflict.source_data == {"id": "u1", "name": "Ann from A", "email": "ann@x"}
    assert conflict.target_data == {"id": "u1", "name": "Ann from B", "email": "ann@x"}
    assert conflict.source_rev != conflict.target_rev
    # Nothing was written on the target.
    assert await b.model("User").get("u1") == target_before
    assert await b.model("User").checkpoint() == checkpoint_before
    # The conflict is recorded where it was found, and only there.
    assert await b.model("User").conflicts() == [conflict]
    assert await a.model("User").conflicts() == []


async def test_a_recorded_conflict_is_listed_once_however_often_replication_meets_it(pair):
    a, b = pair
    await _concurrent_user_edits(a, b)

    for _ in range(3):
        result = await sync(a, b, "User")
        assert [c.model_id for c in result.conflicts] == ["u1"]

    assert [c.model_id for c in await b.model("User").conflicts()] == ["u1"]


async def test_concurrent_edits_of_different_fields_on_a_manual_model_merge(pair):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann", "email": "ann@x"})
    await sync_both(a, b, "User")
    await a.model("User").update("u1", {"name": "Anna"})
    await b.model("User").update("u1", {"email": "anna@b"})

    ab = await sync(a, b, "User")
    ba = await sync(b, a, "User")

    assert statuses(ab) == {"u1": UpdateStatus.MERGED}
    assert ab.conflicts == ba.conflicts == []
    merged = {"id": "u1", "name": "Anna", "email": "anna@b"}
    assert ab.updates[0].data == merged
    assert await a.model("User").get("u1") == await b.model("User").get("u1") == merged
    assert await snapshot(a, "User") == await snapshot(b, "User")


@pytest.mark.parametrize(
    ("using", "data", "expected"),
    [
        (Resolution.SOURCE, None, {"id": "u1", "name": "Ann from A", "email": "ann@x"}),
        (Resolution.TARGET, None, {"id": "u1", "name": "Ann from B", "email": "ann@x"}),
        (
            Resolution.MANUAL,
            {"name": "Ann (merged by hand)", "email": "ann@hand"},
            {"id": "u1", "name": "Ann (merged by hand)", "email": "ann@hand"},
        ),
    ],
    ids=["SOURCE", "TARGET", "MANUAL"],
)
async def test_resolved_conflict_is_gone_and_never_raised_again_and_both_sides_converge(
    pair, using, data, expected
):
    a, b = pair
    await _concurrent_user_edits(a, b)
    await sync(a, b, "User")

    resolved = await b.model("User").resolve_conflict("u1", using, data)

    assert resolved == expected
    assert await b.model("User").get("u1") == expected
    assert await b.model("User").conflicts() == []
    # Next replications, both directions, incremental or from scratch: no conflict again.
    for src, dst in ((a, b), (b, a), (a, b), (b, a)):
        result = await sync(src, dst, "User")
        assert result.conflicts == []
        assert UpdateStatus.CONFLICT not in result.counts
    for repo in (a, b):
        assert await repo.model("User").conflicts() == []
        assert await repo.model("User").get("u1") == expected
    assert await snapshot(a, "User") == await snapshot(b, "User")


async def test_target_resolution_wins_even_against_the_losing_version_sent_again(pair):
    a, b = pair
    await _concurrent_user_edits(a, b)
    await sync(a, b, "User")
    await b.model("User").resolve_conflict("u1", Resolution.TARGET)

    again = await sync(a, b, "User")

    assert statuses(again)["u1"] is UpdateStatus.UNCHANGED
    assert (await b.model("User").get("u1"))["name"] == "Ann from B"


@pytest.mark.parametrize("using", [Resolution.SOURCE, Resolution.TARGET], ids=lambda r: r.value)
async def test_resolution_replicated_to_a_side_that_recorded_the_same_conflict_settles_it_there(
    pair, using
):
    a, b = pair
    await _concurrent_user_edits(a, b)
    await sync(a, b, "User")
    await sync(b, a, "User")
    assert [c.model_id for c in await a.model("User").conflicts()] == ["u1"]

    resolved = await b.model("User").resolve_conflict("u1", using)
    result = await sync(b, a, "User")

    # B's resolution descends from both versions: once A has it, A's record of the very
    # same conflict is settled too (SOURCE here means A's own content wins).
    assert result.conflicts == []
    assert await a.model("User").get("u1") == resolved
    assert await a.model("User").conflicts() == []


async def test_a_newer_source_version_arriving_after_a_conflict_replaces_the_recorded_one(pair):
    a, b = pair
    await _concurrent_user_edits(a, b)
    await sync(a, b, "User")
    await a.model("User").update("u1", {"name": "Ann from A, again"})

    result = await sync(a, b, "User")

    (conflict,) = await b.model("User").conflicts()
    assert conflict.source_data["name"] == "Ann from A, again"
    assert [c.source_data["name"] for c in result.conflicts] == ["Ann from A, again"]


async def test_resolving_without_a_recorded_conflict_is_not_found(pair):
    a, _ = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})

    with pytest.raises(NotFound):
        await a.model("User").resolve_conflict("u1", Resolution.SOURCE)


async def test_manual_resolution_needs_valid_data(pair):
    a, b = pair
    await _concurrent_user_edits(a, b)
    await sync(a, b, "User")

    with pytest.raises(BadInput):
        await b.model("User").resolve_conflict("u1", Resolution.MANUAL)
    with pytest.raises(BadInput):
        await b.model("User").resolve_conflict("u1", Resolution.MANUAL, {"nickname": "x"})
    assert [c.model_id for c in await b.model("User").conflicts()] == ["u1"]


@pytest.mark.parametrize("deleter", [0, 1], ids=["source-deletes", "target-deletes"])
async def test_delete_against_a_concurrent_update_on_a_manual_model_conflicts(pair, deleter):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync_both(a, b, "User")
    deleting, editing = (a, b) if deleter == 0 else (b, a)
    await deleting.model("User").delete("u1")
    await editing.model("User").update("u1", {"name": "Ann edited"})
    before = await b.model("User").get("u1")

    result = await sync(a, b, "User")

    assert statuses(result) == {"u1": UpdateStatus.CONFLICT}
    (conflict,) = result.conflicts
    if deleter == 0:
        assert (conflict.source_rev, conflict.source_data) == (None, None)
        assert conflict.target_data == {"id": "u1", "name": "Ann edited"}
    else:
        assert conflict.source_data == {"id": "u1", "name": "Ann edited"}
        assert (conflict.target_rev, conflict.target_data) == (None, None)
    assert await b.model("User").get("u1") == before
    assert [c.model_id for c in await b.model("User").conflicts()] == ["u1"]


@pytest.mark.parametrize(
    ("using", "expected"),
    [(Resolution.SOURCE, None), (Resolution.TARGET, {"id": "u1", "name": "Ann edited"})],
    ids=["SOURCE-deletion-wins", "TARGET-edit-wins"],
)
async def test_delete_update_conflict_resolution_converges(pair, using, expected):
    a, b = pair
    await a.model("User").create({"id": "u1", "name": "Ann"})
    await sync_both(a, b, "User")
    await a.model("User").delete("u1")
    await b.model("User").update("u1", {"name": "Ann edited"})
    await sync(a, b, "User")

    assert await b.model("User").resolve_conflict("u1", using) == expected

    for src, dst in ((a, b), (b, a), (a, b)):
        assert (await sync(src, dst, "User")).conflicts == []
    for repo in (a, b):
        assert await repo.model("User").get("u1") == expected
        assert await repo.model("User").conflicts() == []


async def test_losing_version_relayed_by_a_third_replica_after_resolution_is_not_a_conflict(trio):
    a, b, c = trio
    await a.model("User").create({"id": "u1", "name": "Ann"})
    for src, dst in ((a, b), (a, c)):
        await sync(src, dst, "User")
    await a.model("User").update("u1", {"name": "Ann from A"})
    await b.model("User").update("u1", {"name": "Ann from B"})
    await sync(b, c, "User")  # C now holds B's version, which is about to lose
    await sync(a, b, "User")  # the conflict, recorded on B
    await b.model("User").resolve_conflict("u1", Resolution.SOURCE)  # A's version wins
    await sync(b, a, "User")  # A receives the resolution (same content as it has)

    relayed = await sync(c, a, "User")

    assert relayed.conflicts == []
    assert await a.model("User").conflicts() == []
    assert (await a.model("User").get("u1"))["name"] == "Ann from A"
