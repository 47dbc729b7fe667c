"""Every contract field family over real HTTP (CONTRACT §2, §4, §7), with the third-party
clients httpx and gql: plain endpoints, checkpoint and changes, bulkUpdate, resolveConflict,
diff, replicate and typed fields. The fields' logic in detail is checked on the schema in
process (test_schema_fields.py)."""

from __future__ import annotations

import httpx
import pytest

from .helpers import (
    CHANGES,
    Api,
    gql_execute,
    gql_http,
    ids_of,
    make_user_conflict,
    notes_for_bulk,
    single_code,
    uid,
)

pytestmark = pytest.mark.usefixtures("check_server_alive")


# -- plain HTTP endpoints ------------------------------------------------------------------


def test_health(server):
    response = httpx.get(server.health_url, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_get_graphql_in_a_browser_opens_graphiql(server):
    response = httpx.get(server.url, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


# -- checkpoint and changes ---------------------------------------------------------------


async def test_checkpoint_moves_with_writes_and_changes_since_it(server, tokens):
    async with gql_http(server, tokens["admin"]) as session:
        before = (await gql_execute(session, 'query { checkpoint(model: "Note") }'))["checkpoint"]
        assert isinstance(before, str)
        assert before
        unchanged = await gql_execute(session, 'query { checkpoint(model: "Note") }')
        assert unchanged["checkpoint"] == before
        note = await gql_execute(session, 'mutation { createNote(data: {title: "cp"}) { id } }')
        after = (await gql_execute(session, 'query { checkpoint(model: "Note") }'))["checkpoint"]
        assert after != before
        page = (await gql_execute(session, CHANGES, {"model": "Note", "since": before}))["changes"]
        assert ids_of(page["changes"]) == [note["createNote"]["id"]]
        assert page["hasMore"] is False
        empty = (await gql_execute(session, CHANGES, {"model": "Note", "since": after}))["changes"]
        assert empty["changes"] == []
        assert empty["hasMore"] is False


# -- bulkUpdate -------------------------------------------------------------------------


async def test_bulk_update_applied_and_unchanged(server, tokens):
    api = Api(server, tokens["admin"])
    a, b = uid("ap-"), uid("ap-")
    created = await api.bulk("Note", notes_for_bulk([a, b], body="x"))
    assert [(r["modelId"], r["status"]) for r in created["results"]] == [
        (a, "APPLIED"),
        (b, "APPLIED"),
    ]
    assert created["conflicts"] == []
    assert created["checkpoint"]
    rev_a = created["results"][0]["rev"]
    assert created["results"][0]["data"] == {"id": a, "title": a, "body": "x"}
    # The very same version again is UNCHANGED (the target already has that rev).
    same = await api.bulk("Note", notes_for_bulk([b], body="x"))
    assert same["results"][0]["status"] == "UNCHANGED"
    assert same["results"][0]["rev"] == created["results"][1]["rev"]
    # An update based on the current rev applies; a delete based on it too.
    updated = await api.bulk(
        "Note",
        [
            {
                "modelId": a,
                "type": "UPDATE",
                "prev": rev_a,
                "data": {"id": a, "title": a, "body": "y"},
            }
        ],
    )
    assert updated["results"][0]["status"] == "APPLIED"
    assert updated["results"][0]["data"]["body"] == "y"
    assert updated["results"][0]["rev"] not in (None, rev_a)
    deleted = await api.bulk(
        "Note", [{"modelId": a, "type": "DELETE", "prev": updated["results"][0]["rev"]}]
    )
    assert deleted["results"][0]["status"] == "APPLIED"
    assert (await api.data("query($id: ID!) { note(id: $id) { id } }", {"id": a}))["note"] is None


# -- resolveConflict ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("using", "data", "expected"),
    [("SOURCE", None, "c"), ("TARGET", None, "b"), ("MANUAL", "manual", "manual")],
)
async def test_resolve_conflict(server, tokens, using, data, expected):
    api = Api(server, tokens["admin"])
    user_id, update = await make_user_conflict(api)
    manual = None if data is None else {"id": user_id, "name": data, "email": "e@x"}
    resolved = (
        await api.data(
            "mutation($id: ID!, $using: Resolution!, $data: JSON) {"
            ' resolveConflict(model: "User", modelId: $id, using: $using, data: $data) }',
            {"id": user_id, "using": using, "data": manual},
        )
    )["resolveConflict"]
    assert resolved["name"] == expected
    user = (await api.data("query($id: ID!) { user(id: $id) { name } }", {"id": user_id}))["user"]
    assert user == {"name": expected}
    listed = (await api.data('query { conflicts(model: "User") { modelId } }'))["conflicts"]
    assert user_id not in [c["modelId"] for c in listed]
    # The same remote change, replicated again, is not raised again.
    again = await api.bulk("User", [update])
    assert again["results"][0]["status"] != "CONFLICT"
    assert again["conflicts"] == []
    user = (await api.data("query($id: ID!) { user(id: $id) { name } }", {"id": user_id}))["user"]
    assert user == {"name": expected}


async def test_resolve_conflict_without_a_conflict_is_not_found(server, tokens):
    api = Api(server, tokens["admin"])
    errors = await api.errors(
        'mutation { resolveConflict(model: "User", modelId: "no-such-conflict", using: SOURCE) }'
    )
    assert single_code(errors) == "NOT_FOUND"


# -- diff ---------------------------------------------------------------------------------


async def test_diff_deltas_and_conflicts(server, tokens):
    api = Api(server, tokens["admin"])
    kept, edited, fresh = uid("dk-"), uid("de-"), uid("df-")
    created = await api.bulk("Note", notes_for_bulk([kept, edited]))
    rev = {r["modelId"]: r["rev"] for r in created["results"]}
    since = await api.checkpoint()
    await api.data(
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "here"}) { id } }',
        {"id": edited},
    )
    query = (
        "mutation($since: Checkpoint, $changes: [ChangeInput!]!) {"
        ' diff(model: "Note", since: $since, changes: $changes) {'
        " deltas { modelId type rev prev } conflicts { modelId sourceRev targetRev targetData"
        " fields } } }"
    )
    remote = [
        # Based on what this side has and this side did not change since: a delta.
        {"modelId": kept, "type": "UPDATE", "rev": "remote-rev-1", "prev": rev[kept]},
        # Based on the old rev while this side changed it since `since`: a conflict.
        {"modelId": edited, "type": "UPDATE", "rev": "remote-rev-2", "prev": rev[edited]},
        # Unknown here: a delta.
        {"modelId": fresh, "type": "CREATE", "rev": "remote-rev-3", "prev": None},
        # The same rev on both sides: nothing.
        {"modelId": kept, "type": "UPDATE", "rev": rev[kept], "prev": None},
    ]
    diff = (await api.data(query, {"since": since, "changes": remote}))["diff"]
    assert sorted(d["modelId"] for d in diff["deltas"]) == sorted([kept, fresh])
    delta = next(d for d in diff["deltas"] if d["modelId"] == kept)
    assert delta["rev"] == "remote-rev-1"
    assert delta["prev"] == rev[kept]
    (conflict,) = diff["conflicts"]
    assert conflict["modelId"] == edited
    assert conflict["sourceRev"] == "remote-rev-2"
    assert conflict["targetData"]["title"] == "here"
    # Without `since`-relative changes on this side, nothing conflicts.
    later = await api.checkpoint()
    calm = (await api.data(query, {"since": later, "changes": remote[1:2]}))["diff"]
    assert calm["conflicts"] == []
    # Both sides deleted: no conflict.
    gone = uid("dd-")
    made = await api.bulk("Note", notes_for_bulk([gone]))
    await api.data("mutation($id: ID!) { deleteNote(id: $id) }", {"id": gone})
    both = (
        await api.data(
            query,
            {
                "since": since,
                "changes": [
                    {
                        "modelId": gone,
                        "type": "DELETE",
                        "rev": None,
                        "prev": made["results"][0]["rev"],
                    }
                ],
            },
        )
    )["diff"]
    assert both["conflicts"] == []


# -- replicate ----------------------------------------------------------------------------

REPLICATE = """
mutation($since: CheckpointPairInput, $where: JSON) {
  replicate(source: "User", target: "RemoteUser", since: $since, where: $where) {
    conflicts { model modelId fields sourceData targetData }
    checkpoints { source target }
    updates { modelId status rev data }
  }
}
"""


async def test_replicate_user_to_remote_user(server, tokens):
    api = Api(server, tokens["admin"])
    family = uid("fam-")
    where = {"email": {"like": f"%@{family}"}}
    ids = [uid("ru-") for _ in range(3)]
    for i, user_id in enumerate(ids[:2]):
        await api.data(
            "mutation($d: UserInput!) { createUser(data: $d) { id } }",
            {"d": {"id": user_id, "name": f"n{i}", "email": f"{i}@{family}"}},
        )
    first = (await api.data(REPLICATE, {"since": None, "where": where}))["replicate"]
    assert sorted((u["modelId"], u["status"]) for u in first["updates"]) == sorted(
        (i, "APPLIED") for i in ids[:2]
    )
    assert first["conflicts"] == []
    assert first["checkpoints"]["source"]
    assert first["checkpoints"]["target"]
    copied = await api.data(
        "query($w: JSON) { remoteUsers(where: $w) { id name email } }", {"w": where}
    )
    assert sorted(u["id"] for u in copied["remoteUsers"]) == sorted(ids[:2])

    # Incremental: nothing new, nothing copied.
    second = (await api.data(REPLICATE, {"since": first["checkpoints"], "where": where}))[
        "replicate"
    ]
    assert second["updates"] == []

    # One edit and one new user: exactly those two are copied.
    await api.data(
        'mutation($id: ID!) { updateUser(id: $id, data: {name: "renamed"}) { id } }',
        {"id": ids[0]},
    )
    await api.data(
        "mutation($d: UserInput!) { createUser(data: $d) { id } }",
        {"d": {"id": ids[2], "name": "n2", "email": f"2@{family}"}},
    )
    third = (await api.data(REPLICATE, {"since": second["checkpoints"], "where": where}))[
        "replicate"
    ]
    assert sorted((u["modelId"], u["status"]) for u in third["updates"]) == sorted(
        [(ids[0], "APPLIED"), (ids[2], "APPLIED")]
    )
    renamed = await api.data("query($id: ID!) { remoteUser(id: $id) { name } }", {"id": ids[0]})
    assert renamed == {"remoteUser": {"name": "renamed"}}

    # Both sides edit the same user: the next replication reports a conflict.
    await api.data(
        'mutation($id: ID!) { updateRemoteUser(id: $id, data: {name: "remote"}) { id } }',
        {"id": ids[1]},
    )
    await api.data(
        'mutation($id: ID!) { updateUser(id: $id, data: {name: "source"}) { id } }',
        {"id": ids[1]},
    )
    fourth = (await api.data(REPLICATE, {"since": third["checkpoints"], "where": where}))[
        "replicate"
    ]
    assert [(c["model"], c["modelId"], c["fields"]) for c in fourth["conflicts"]] == [
        ("RemoteUser", ids[1], ["name"])
    ]
    listed = (await api.data('query { conflicts(model: "RemoteUser") { modelId } }'))["conflicts"]
    assert ids[1] in [c["modelId"] for c in listed]


# -- typed fields -------------------------------------------------------------------------

NOTE_FIELDS = "id title body tags views tenantId"


async def test_typed_note_fields(server, tokens):
    async with gql_http(server, tokens["admin"]) as session:
        chosen = uid("typed-")
        created = (
            await gql_execute(
                session,
                f"mutation($d: NoteInput!) {{ createNote(data: $d) {{ {NOTE_FIELDS} }} }}",
                {"d": {"id": chosen, "title": "t", "body": "b", "tags": ["x", "y"], "views": 3}},
            )
        )["createNote"]
        assert created == {
            "id": chosen,
            "title": "t",
            "body": "b",
            "tags": ["x", "y"],
            "views": 3,
            "tenantId": None,
        }
        generated = (
            await gql_execute(session, 'mutation { createNote(data: {title: "gen"}) { id } }')
        )["createNote"]["id"]
        assert generated
        assert generated != chosen

        got = (
            await gql_execute(
                session, f"query($id: ID!) {{ note(id: $id) {{ {NOTE_FIELDS} }} }}", {"id": chosen}
            )
        )["note"]
        assert got == created
        missing = await gql_execute(session, 'query { note(id: "no-such-note") { id } }')
        assert missing == {"note": None}

        # update is a patch: fields not given keep their values; null removes a field.
        patched = (
            await gql_execute(
                session,
                f'mutation($id: ID!) {{ updateNote(id: $id, data: {{title: "t2"}}) '
                f"{{ {NOTE_FIELDS} }} }}",
                {"id": chosen},
            )
        )["updateNote"]
        assert patched == {**created, "title": "t2"}
        removed = (
            await gql_execute(
                session,
                f"mutation($id: ID!) {{ updateNote(id: $id, data: {{body: null}}) "
                f"{{ {NOTE_FIELDS} }} }}",
                {"id": chosen},
            )
        )["updateNote"]
        assert removed == {**created, "title": "t2", "body": None}
        changes = (
            await gql_execute(
                session, CHANGES, {"model": "Note", "where": {"id": chosen}, "limit": 10}
            )
        )["changes"]["changes"]
        assert "body" not in changes[-1]["data"]
        assert changes[-1]["data"]["tags"] == ["x", "y"]

        # list with where / limit / offset
        tag = uid("lst-")
        for i in range(5):
            await gql_execute(
                session,
                "mutation($d: NoteInput!) { createNote(data: $d) { id } }",
                {"d": {"id": f"{tag}-{i}", "tags": [tag], "views": i}},
            )
        listed = await gql_execute(
            session,
            "query($w: JSON) { all: notes(where: $w) { id views } "
            "two: notes(where: $w, limit: 2) { id } "
            "rest: notes(where: $w, limit: 10, offset: 2) { id } }",
            {"w": {"tags": tag}},
        )
        all_ids = [n["id"] for n in listed["all"]]
        assert sorted(all_ids) == [f"{tag}-{i}" for i in range(5)]
        assert len(listed["two"]) == 2
        assert [n["id"] for n in listed["two"]] + [n["id"] for n in listed["rest"]] == all_ids

        # delete: true once, then false (nothing left to delete)
        deleted = await gql_execute(
            session, "mutation($id: ID!) { deleteNote(id: $id) }", {"id": chosen}
        )
        assert deleted == {"deleteNote": True}
        again = await gql_execute(
            session, "mutation($id: ID!) { deleteNote(id: $id) }", {"id": chosen}
        )
        assert again == {"deleteNote": False}
        never = await gql_execute(session, 'mutation { deleteNote(id: "never-existed") }')
        assert never == {"deleteNote": False}
        gone = await gql_execute(
            session, "query($id: ID!) { note(id: $id) { id } }", {"id": chosen}
        )
        assert gone == {"note": None}
