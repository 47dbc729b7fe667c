"""The change log (changes) and replicate(): filters, checkpoints, chunks."""

from __future__ import annotations

import pytest

from graphql_repl import BadInput, Settings
from graphql_repl.replication import ChangeType, CheckpointPair, Update, UpdateStatus

from .helpers import snapshot, sync


@pytest.mark.parametrize("limit", [0, -1, 5001])
async def test_changes_limit_out_of_range_is_bad_input(pair, limit):
    a, _ = pair
    with pytest.raises(BadInput):
        await a.model("Note").changes(limit=limit)


@pytest.mark.parametrize("limit", [1, 5000])
async def test_changes_limit_at_the_bounds_is_accepted(pair, limit):
    a, _ = pair
    await a.model("Note").create({"id": "n1"})
    await a.model("Note").create({"id": "n2"})

    page = await a.model("Note").changes(limit=limit)

    assert len(page.changes) == min(limit, 2)
    assert page.has_more is (limit < 2)


async def test_changes_list_each_document_once_at_its_latest_state_in_log_order(pair):
    a, _ = pair
    notes = a.model("Note")
    for i in range(1, 5):
        await notes.create({"id": f"n{i}", "title": "v0"})
    await notes.update("n2", {"title": "v1"})
    await notes.update("n1", {"title": "v1"})
    await notes.update("n2", {"title": "v2"})
    await notes.delete("n3")

    page = await notes.changes()

    assert [(c.model_id, c.type) for c in page.changes] == [
        ("n4", ChangeType.CREATE),
        ("n1", ChangeType.UPDATE),
        ("n2", ChangeType.UPDATE),
        ("n3", ChangeType.DELETE),
    ]
    assert page.changes[2].data == {"id": "n2", "title": "v2"}
    deletion = page.changes[3]
    assert deletion.rev is None
    assert deletion.data is None
    assert deletion.prev is not None
    assert page.checkpoint == await notes.checkpoint()
    assert page.has_more is False


async def test_paging_changes_never_skips_or_repeats(pair):
    a, _ = pair
    notes = a.model("Note")
    for i in range(23):
        await notes.create({"id": f"n{i:02}", "views": i})
    seen, since, pages = [], None, 0
    while True:
        page = await notes.changes(since, limit=5)
        seen += [c.model_id for c in page.changes]
        since, pages = page.checkpoint, pages + 1
        if not page.has_more:
            break

    assert seen == [f"n{i:02}" for i in range(23)]
    assert pages == 5
    assert (await notes.changes(since)).changes == []


async def test_changes_since_a_checkpoint_list_only_later_writes(pair):
    a, _ = pair
    notes = a.model("Note")
    await notes.create({"id": "old"})
    since = await notes.checkpoint()
    await notes.create({"id": "new"})

    assert [c.model_id for c in (await notes.changes(since)).changes] == ["new"]


@pytest.mark.parametrize("checkpoint", ["garbage", "abc-xyz", "-5"])
async def test_changes_with_a_malformed_checkpoint_is_bad_input(pair, checkpoint):
    a, _ = pair
    with pytest.raises(BadInput):
        await a.model("Note").changes(checkpoint)


async def test_changes_filtered_by_tenant_include_that_tenants_deletions(pair):
    a, _ = pair
    notes = a.model("Note")
    await notes.create({"id": "t1:n1", "tenantId": "t1"})
    await notes.create({"id": "t2:n2", "tenantId": "t2"})
    await notes.create({"id": "t1:n3", "tenantId": "t1"})
    await notes.delete("t1:n3")

    page = await notes.changes(where={"tenantId": "t1"})

    assert [(c.model_id, c.type) for c in page.changes] == [
        ("t1:n1", ChangeType.CREATE),
        ("t1:n3", ChangeType.DELETE),
    ]


async def test_replicate_with_where_copies_only_matching_documents(pair):
    a, b = pair
    notes = a.model("Note")
    await notes.create({"id": "t1:n1", "tenantId": "t1", "title": "mine"})
    await notes.create({"id": "t2:n2", "tenantId": "t2", "title": "theirs"})
    await notes.create({"id": "t1:n3", "tenantId": "t1"})
    await notes.create({"id": "n4"})

    result = await sync(a, b, where={"tenantId": "t1"})

    assert sorted(u.model_id for u in result.updates) == ["t1:n1", "t1:n3"]
    assert [d["id"] for d in await b.model("Note").find()] == ["t1:n1", "t1:n3"]

    await notes.update("t2:n2", {"title": "still theirs"})
    await notes.delete("t1:n3")
    again = await sync(a, b, since=result.checkpoints, where={"tenantId": "t1"})

    assert [(u.model_id, u.status) for u in again.updates] == [("t1:n3", UpdateStatus.APPLIED)]
    assert [d["id"] for d in await b.model("Note").find()] == ["t1:n1"]


async def test_replicate_returns_checkpoints_and_a_second_run_copies_nothing_new(pair):
    a, b = pair
    for i in range(3):
        await a.model("Note").create({"id": f"n{i}"})

    first = await sync(a, b)
    second = await sync(a, b, since=first.checkpoints)

    assert first.counts == {UpdateStatus.APPLIED: 3}
    assert first.checkpoints == CheckpointPair(
        await a.model("Note").checkpoint(), await b.model("Note").checkpoint()
    )
    assert second.updates == []
    assert second.counts == {}
    assert second.checkpoints.source == first.checkpoints.source
    assert second.checkpoints.target is not None

    await a.model("Note").update("n1", {"title": "changed"})
    third = await sync(a, b, since=second.checkpoints)

    assert [(u.model_id, u.status) for u in third.updates] == [("n1", UpdateStatus.APPLIED)]


async def test_replicate_from_an_empty_source_returns_checkpoints(pair):
    a, b = pair

    result = await sync(a, b)

    assert result.updates == []
    assert result.conflicts == []
    assert result.checkpoints.source is not None
    assert result.checkpoints.target is not None
    assert (await sync(a, b, since=result.checkpoints)).updates == []


async def test_replicate_in_chunks_smaller_than_the_number_of_documents(open_replicas):
    a, b = await open_replicas(2, settings=Settings(replication_chunk_size=7))
    notes = a.model("Note")
    for i in range(30):
        await notes.create({"id": f"n{i:02}", "views": i})
    for i in range(0, 30, 3):
        await notes.update(f"n{i:02}", {"title": "edited"})

    result = await sync(a, b)

    assert result.counts == {UpdateStatus.APPLIED: 30}
    assert sorted(u.model_id for u in result.updates) == [f"n{i:02}" for i in range(30)]
    assert await snapshot(a) == await snapshot(b)
    assert len((await b.model("Note").changes(limit=100)).changes) == 30
    assert (await sync(a, b, since=result.checkpoints)).updates == []


async def test_repository_replicate_copies_one_model_into_another_in_chunks(open_replicas):
    (repo,) = await open_replicas(1, settings=Settings(replication_chunk_size=7))
    users = repo.model("User")
    for i in range(20):
        await users.create({"id": f"u{i:02}", "name": f"user {i}"})

    result = await repo.view().replicate("User", "RemoteUser")
    await users.update("u05", {"name": "renamed"})
    await users.delete("u06")
    again = await repo.view().replicate("User", "RemoteUser", result.checkpoints)

    assert result.counts == {UpdateStatus.APPLIED: 20}
    assert {(u.model_id, u.status) for u in again.updates} == {
        ("u05", UpdateStatus.APPLIED),
        ("u06", UpdateStatus.APPLIED),
    }
    assert await repo.model("RemoteUser").find() == await users.find()
    assert await repo.model("RemoteUser").get("u05") == {"id": "u05", "name": "renamed"}


async def test_bulk_update_larger_than_a_chunk_applies_every_update(open_replicas):
    a, b = await open_replicas(2, settings=Settings(replication_chunk_size=7))
    for i in range(16):
        await a.model("Note").create({"id": f"n{i:02}"})
    changes = (await a.model("Note").changes()).changes

    result = await b.model("Note").bulk_update([Update.from_change(c) for c in changes])

    assert [r.status for r in result.results] == [UpdateStatus.APPLIED] * 16
    assert len(await b.model("Note").find()) == 16


async def test_replicate_with_a_source_checkpoint_from_another_replica_is_bad_input(pair):
    a, b = pair
    await b.model("Note").create({"id": "n1"})
    foreign = await b.model("Note").checkpoint()

    with pytest.raises(BadInput):
        await sync(a, b, since=CheckpointPair(source=foreign))
