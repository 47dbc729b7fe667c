"""Web-app sync (CONTRACT §8) in the replication layer: pull pages the log in document
states; push settles each row against the master state by validated content, merges per
field with the assumed state as base, and answers the master state of every row not
written as sent. Every test runs on SQLite and on MongoDB."""

from __future__ import annotations

from graphql_repl.replication import DocumentState, PushRow, rev_of


def _row(new: dict, assumed: dict | None = None) -> PushRow:
    return PushRow(new, assumed)


async def test_pull_pages_latest_states_with_tombstones_and_a_checkpoint_to_continue(pair):
    a, _ = pair
    notes = a.model("Note")
    await notes.create({"id": "n1", "title": "one"})
    await notes.create({"id": "n2", "title": "two", "tenantId": None})
    await notes.update("n1", {"title": "one again"})
    await notes.delete("n2")

    first = await notes.pull(None, 1)
    rest = await notes.pull(first.checkpoint, 10)
    again = await notes.pull(rest.checkpoint, 10)

    live = DocumentState({"id": "n1", "title": "one again"}, False)
    states = [(s.data, s.deleted) for s in first.documents + rest.documents]
    assert states == [({"id": "n1", "title": "one again"}, False), ({"id": "n2"}, True)]
    assert first.documents[0].rev == rev_of(live.data)
    assert rest.documents[0].rev is None
    assert again.documents == []
    assert again.checkpoint == rest.checkpoint  # nothing changed: the same position


async def test_a_row_based_on_the_master_is_written_as_sent_and_not_answered(pair):
    a, _ = pair
    notes = a.model("Note")
    master = await notes.create({"id": "n1", "title": "base", "views": 1})

    pushed = await notes.push([_row({**master, "title": "mine"}, master)])

    assert pushed.masters == []
    assert pushed.written == 1
    assert await notes.get("n1") == {"id": "n1", "title": "mine", "views": 1}


async def test_equality_is_by_validated_content_so_a_whole_number_float_matches(pair):
    a, _ = pair
    records = a.model("FinancialRecord")
    master = await records.create({"id": "f1", "account": "acc", "amount": 12.0})
    sent_by_js = {"id": "f1", "account": "acc", "amount": 12}  # JavaScript writes 12.0 as 12

    pushed = await records.push([_row({**sent_by_js, "amount": 13}, sent_by_js)])

    assert pushed.masters == []
    assert (await records.get("f1"))["amount"] == 13.0
    assert master["amount"] == 12.0


async def test_a_retried_push_is_a_success(pair):
    a, _ = pair
    notes = a.model("Note")
    base = await notes.create({"id": "n1", "title": "base"})
    row = _row({"id": "n1", "title": "mine"}, base)
    await notes.push([row])
    before = await notes.checkpoint()

    pushed = await notes.push([row])

    assert pushed.masters == []
    assert await notes.checkpoint() == before  # nothing written again


async def test_concurrent_edits_merge_per_field_with_the_assumed_state_as_base(pair):
    a, _ = pair
    notes = a.model("Note")
    base = await notes.create({"id": "n1", "title": "base", "body": "base", "tags": ["x"]})
    await notes.update("n1", {"title": "server's title", "tags": ["x", "s"]})

    pushed = await notes.push([_row({**base, "body": "client's body", "tags": ["x", "c"]}, base)])

    merged = {
        "id": "n1",
        "title": "server's title",
        "body": "client's body",
        "tags": ["x", "c", "s"],
    }
    (master,) = pushed.masters
    assert pushed.merged == 1
    assert master.data["title"] == merged["title"]
    assert master.data["body"] == merged["body"]
    assert sorted(master.data["tags"]) == sorted(merged["tags"])
    assert master.rev == rev_of(master.data)
    assert await notes.get("n1") == master.data


async def test_a_row_pushed_again_from_an_old_state_cannot_undo_newer_edits(pair, wall):
    """A client that lost track of what it pulled pushes a state it had (RxDB can, when a
    page closes mid-pull): where the master changed the same field since, it is kept."""
    a, _ = pair
    notes = a.model("Note")
    old = await notes.create({"id": "n1", "title": "old", "body": "b"})
    wall.tick()
    newer = await notes.update("n1", {"title": "newer"})

    before = await notes.checkpoint()

    pushed = await notes.push([_row(old)])  # no assumed state: "it is new to me"

    (master,) = pushed.masters
    assert master.data == newer
    assert await notes.get("n1") == newer
    assert await notes.checkpoint() == before  # nothing written


async def test_a_manual_conflict_writes_and_records_nothing_and_answers_the_master(pair):
    a, _ = pair
    users = a.model("User")
    base = await users.create({"id": "u1", "name": "base"})
    server = await users.update("u1", {"name": "server"})
    before = await users.checkpoint()

    pushed = await users.push([_row({"id": "u1", "name": "client"}, base)])

    assert [m.data for m in pushed.masters] == [server]
    assert pushed.kept == 1
    assert await users.checkpoint() == before
    assert await users.conflicts() == []


async def test_a_deletion_pushed_against_the_master_it_assumed_deletes(pair):
    a, _ = pair
    notes = a.model("Note")
    base = await notes.create({"id": "n1", "title": "base"})

    pushed = await notes.push([_row({"id": "n1", "_deleted": True}, base)])

    assert pushed.masters == []
    assert await notes.get("n1") is None


async def test_a_new_document_pushed_as_new_is_created(pair):
    a, _ = pair
    notes = a.model("Note")

    pushed = await notes.push([_row({"id": "n1", "title": "new", "_deleted": False})])

    assert pushed.masters == []
    assert await notes.get("n1") == {"id": "n1", "title": "new"}


async def test_an_invalid_row_is_refused_alone_with_its_master_state(pair):
    a, _ = pair
    notes = a.model("Note")
    kept = await notes.create({"id": "n1", "title": "kept"})
    before = await notes.checkpoint()

    pushed = await notes.push(
        [
            _row({"id": "n1", "title": "x", "bogus": 1}, kept),  # unknown field
            _row({"id": "n2", "views": "many"}),  # wrong type, and no such document
            _row({"title": "no id"}),
            _row({"id": "n3", "title": "fine"}),
        ]
    )

    assert pushed.refused == 3
    assert pushed.written == 1
    answered = [(m.data, m.deleted) for m in pushed.masters]
    assert answered == [(kept, False), ({"id": "n2"}, True), ({"id": ""}, True)]
    assert await notes.get("n1") == kept
    assert await notes.get("n2") is None
    assert await notes.get("n3") == {"id": "n3", "title": "fine"}
    assert await notes.checkpoint() != before


async def test_tenant_bound_pushes_stay_in_their_tenant(pair):
    a, _ = pair
    mine = a.view("t1").model("Note")
    theirs = a.view("t2").model("Note")
    await theirs.push([_row({"id": "n1", "title": "t2's"})])

    pushed = await mine.push(
        [
            _row({"id": "n1", "title": "t1's"}),
            _row({"id": "n2", "title": "into t2", "tenantId": "t2"}),
        ]
    )

    assert [(m.data, m.deleted) for m in pushed.masters] == [({"id": "n2"}, True)]
    assert await mine.get("n1") == {"id": "n1", "title": "t1's", "tenantId": "t1"}
    assert await theirs.get("n1") == {"id": "n1", "title": "t2's", "tenantId": "t2"}
    pulled = await mine.pull(None, 10)
    assert [s.data["id"] for s in pulled.documents] == ["n1"]


async def test_a_model_without_a_tenant_field_is_closed_to_tenant_bound_pushes(pair):
    a, _ = pair
    users = a.view("t1").model("User")

    pushed = await users.push([_row({"id": "u1", "name": "x"})])

    assert pushed.refused == 1
    assert await a.model("User").get("u1") is None
