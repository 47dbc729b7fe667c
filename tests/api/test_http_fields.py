"""Every contract field and argument over real HTTP (CONTRACT §2, §4, §7), with the
third-party clients httpx and gql (HTTPXAsyncTransport)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError

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


def stamp(ms: int, node: str = "feedbeef") -> str:
    """A hybrid logical clock stamp as the server writes them (CONTRACT §3: LATEST)."""
    return f"{ms:012x}{0:04x}{node}"


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
        assert isinstance(before, str) and before
        unchanged = await gql_execute(session, 'query { checkpoint(model: "Note") }')
        assert unchanged["checkpoint"] == before
        note = await gql_execute(session, 'mutation { createNote(data: {title: "cp"}) { id } }')
        after = (await gql_execute(session, 'query { checkpoint(model: "Note") }'))["checkpoint"]
        assert after != before
        page = (await gql_execute(session, CHANGES, {"model": "Note", "since": before}))["changes"]
        assert ids_of(page["changes"]) == [note["createNote"]["id"]]
        assert page["hasMore"] is False
        empty = (await gql_execute(session, CHANGES, {"model": "Note", "since": after}))["changes"]
        assert empty["changes"] == [] and empty["hasMore"] is False


async def test_changes_pages_with_limit_and_has_more(server, tokens):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    ids = [uid("page-") for _ in range(25)]
    await api.bulk("Note", notes_for_bulk(ids))
    pages = []
    cursor = since
    while True:
        page = (await api.data(CHANGES, {"model": "Note", "since": cursor, "limit": 10}))["changes"]
        pages.append(page)
        cursor = page["checkpoint"]
        if not page["hasMore"]:
            break
        assert len(pages) < 10, "hasMore never became false"
    assert [len(p["changes"]) for p in pages] == [10, 10, 5]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    changes = [c for p in pages for c in p["changes"]]
    assert ids_of(changes) == ids
    assert len({c["checkpoint"] for c in changes}) == 25
    # Each page's checkpoint is its last change's, so the next page starts right after it.
    for page in pages:
        assert page["checkpoint"] == page["changes"][-1]["checkpoint"]
    for change in changes:
        assert change["model"] == "Note"
        assert change["type"] == "CREATE"
        assert change["rev"] and change["prev"] is None
        assert change["data"]["id"] == change["modelId"]
        assert change["data"]["title"] == change["modelId"]
        assert isinstance(change["clock"], dict) and "title" in change["clock"]
    rest = (await api.data(CHANGES, {"model": "Note", "since": cursor, "limit": 10}))["changes"]
    assert rest["changes"] == [] and rest["hasMore"] is False


async def test_changes_default_limit_and_maximum_limit(server, tokens):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    ids = [uid("lim-") for _ in range(501)]
    await api.bulk("Note", notes_for_bulk(ids))
    default = (
        await api.data(
            'query($s: Checkpoint) { changes(model: "Note", since: $s) { changes { modelId } '
            "hasMore } }",
            {"s": since},
        )
    )["changes"]
    assert len(default["changes"]) == 500 and default["hasMore"] is True
    biggest = (await api.data(CHANGES, {"model": "Note", "since": since, "limit": 5000}))["changes"]
    assert ids_of(biggest["changes"]) == ids and biggest["hasMore"] is False
    one = (await api.data(CHANGES, {"model": "Note", "since": since, "limit": 1}))["changes"]
    assert ids_of(one["changes"]) == ids[:1] and one["hasMore"] is True


async def test_changes_report_each_document_once_at_its_latest_state(server, tokens):
    api = Api(server, tokens["admin"])
    note = await api.create_note(title="v1", body="b")
    since = await api.checkpoint()
    for title in ("v2", "v3"):
        await api.data(
            "mutation($id: ID!, $t: String) { updateNote(id: $id, data: {title: $t}) { id } }",
            {"id": note["id"], "t": title},
        )
    other = await api.create_note(title="other")
    await api.data("mutation($id: ID!) { deleteNote(id: $id) }", {"id": other["id"]})
    changes, _ = await api.all_changes(since=since)
    assert ids_of(changes) == [note["id"], other["id"]]
    update, delete = changes
    assert update["type"] == "UPDATE" and update["data"]["title"] == "v3"
    assert update["prev"] and update["rev"] and update["prev"] != update["rev"]
    assert delete["type"] == "DELETE"
    assert delete["rev"] is None and delete["data"] is None and delete["prev"]


async def test_changes_where_filter_operators(server, tokens):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    tag = uid("tag-")
    specs = {
        "a": {"title": "alpha one", "views": 1, "tags": [tag, "x"]},
        "b": {"title": "beta", "views": 5, "tags": [tag]},
        "c": {"title": "alpha two", "views": 9, "tags": [tag, "y"]},
        "d": {"title": "gamma", "views": 12, "tags": [tag]},
    }
    ids = {k: uid(f"w{k}-") for k in specs}
    await api.bulk(
        "Note",
        [
            {"modelId": ids[k], "type": "CREATE", "data": {"id": ids[k], **v}}
            for k, v in specs.items()
        ],
    )

    async def matching(where: dict[str, Any]) -> list[str]:
        scoped = {"and": [{"tags": tag}, where]}
        changes, _ = await api.all_changes(since=since, where=scoped)
        names = {v: k for k, v in ids.items()}
        return [names[i] for i in ids_of(changes)]

    assert await matching({"title": "beta"}) == ["b"]
    assert await matching({"views": {"gt": 5}}) == ["c", "d"]
    assert await matching({"views": {"gte": 5, "lte": 9}}) == ["b", "c"]
    assert await matching({"views": {"lt": 5}}) == ["a"]
    assert await matching({"title": {"neq": "beta"}}) == ["a", "c", "d"]
    assert await matching({"views": {"inq": [1, 12]}}) == ["a", "d"]
    assert await matching({"views": {"nin": [1, 12]}}) == ["b", "c"]
    assert await matching({"title": {"like": "alpha%"}}) == ["a", "c"]
    assert await matching({"or": [{"title": "beta"}, {"views": 12}]}) == ["b", "d"]
    assert await matching({"tags": "y"}) == ["c"]
    # The same filter on the typed list field.
    listed = await api.data(
        "query($w: JSON) { notes(where: $w, limit: 10) { id } }",
        {"w": {"and": [{"tags": tag}, {"title": {"like": "alpha%"}}]}},
    )
    assert sorted(n["id"] for n in listed["notes"]) == sorted([ids["a"], ids["c"]])


# -- bulkUpdate -------------------------------------------------------------------------


async def test_bulk_update_applied_and_unchanged(server, tokens):
    api = Api(server, tokens["admin"])
    a, b = uid("ap-"), uid("ap-")
    created = await api.bulk("Note", notes_for_bulk([a, b], body="x"))
    assert [(r["modelId"], r["status"]) for r in created["results"]] == [
        (a, "APPLIED"),
        (b, "APPLIED"),
    ]
    assert created["conflicts"] == [] and created["checkpoint"]
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


async def test_bulk_update_merges_per_field_strategies(server, tokens):
    """Note: title/body LATEST, tags UNION, views MAX; each side changed other fields."""
    api = Api(server, tokens["admin"])
    nid = uid("merge-")
    base = {"id": nid, "title": "t0", "body": "b0", "tags": ["a"], "views": 1}
    r0 = (await api.bulk("Note", [{"modelId": nid, "type": "CREATE", "data": base}]))["results"][0][
        "rev"
    ]
    await api.data(
        'mutation($id: ID!) { updateNote(id: $id, data: {body: "b-local", tags: ["a", "l"],'
        " views: 5}) { id } }",
        {"id": nid},
    )
    remote = {**base, "title": "t-remote", "tags": ["a", "r"], "views": 3}
    result = await api.bulk(
        "Note", [{"modelId": nid, "type": "UPDATE", "prev": r0, "data": remote}]
    )
    (merged,) = result["results"]
    assert merged["status"] == "MERGED", merged
    assert result["conflicts"] == []
    data = merged["data"]
    assert data["title"] == "t-remote"  # only the source changed it
    assert data["body"] == "b-local"  # only the target changed it
    assert data["views"] == 5  # MAX
    assert sorted(data["tags"]) == ["a", "l", "r"]  # UNION, no duplicates
    stored = (
        await api.data("query($id: ID!) { note(id: $id) { title body tags views } }", {"id": nid})
    )["note"]
    assert stored == {k: data[k] for k in ("title", "body", "tags", "views")}
    assert nid not in [
        c["modelId"]
        for c in (await api.data('query { conflicts(model: "Note") { modelId } }'))["conflicts"]
    ]


async def test_bulk_update_latest_follows_the_clock(server, tokens):
    """Both sides changed the title: LATEST keeps the value with the greater clock stamp,
    whatever order the updates arrive in."""
    api = Api(server, tokens["admin"])
    nid = uid("clock-")
    r0 = (await api.bulk("Note", notes_for_bulk([nid])))["results"][0]["rev"]
    await api.data(
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "local"}) { id } }', {"id": nid}
    )
    changes, _ = await api.all_changes(where={"id": nid})
    local_stamp = changes[-1]["clock"]["title"]
    assert isinstance(local_stamp, str) and len(local_stamp) >= 16

    older = {"title": stamp(1)}  # long before the local edit
    lost = await api.bulk(
        "Note",
        [
            {
                "modelId": nid,
                "type": "UPDATE",
                "prev": r0,
                "data": {"id": nid, "title": "remote-old"},
                "clock": older,
            }
        ],
    )
    assert lost["results"][0]["status"] == "MERGED"
    assert lost["results"][0]["data"]["title"] == "local"

    newer = {"title": stamp(int(time.time() * 1000) + 60_000)}
    won = await api.bulk(
        "Note",
        [
            {
                "modelId": nid,
                "type": "UPDATE",
                "prev": r0,
                "data": {"id": nid, "title": "remote-new"},
                "clock": newer,
            }
        ],
    )
    assert won["results"][0]["status"] == "MERGED"
    assert won["results"][0]["data"]["title"] == "remote-new"
    latest, _ = await api.all_changes(where={"id": nid})
    assert latest[-1]["clock"]["title"] == newer["title"]


async def test_bulk_update_conflict_is_recorded_and_listed(server, tokens):
    api = Api(server, tokens["admin"])
    user_id, _ = await make_user_conflict(api)
    listed = (
        await api.data(
            'query { conflicts(model: "User") { model modelId sourceRev targetRev sourceData '
            "targetData fields } }"
        )
    )["conflicts"]
    mine = [c for c in listed if c["modelId"] == user_id]
    assert len(mine) == 1
    assert mine[0]["fields"] == ["name"] and mine[0]["sourceData"]["name"] == "c"


async def test_bulk_update_one_bad_update_does_not_abort_the_others(server, tokens):
    api = Api(server, tokens["admin"])
    good, bad = uid("good-"), uid("bad-")
    result = await api.bulk(
        "Note",
        [
            {"modelId": bad, "type": "CREATE", "data": {"id": bad, "views": "not a number"}},
            {"modelId": good, "type": "CREATE", "data": {"id": good, "title": "ok"}},
        ],
    )
    statuses = {r["modelId"]: r["status"] for r in result["results"]}
    assert statuses[good] == "APPLIED"
    assert statuses[bad] not in ("APPLIED", "MERGED", "UNCHANGED")
    found = await api.data(
        "query($a: ID!, $b: ID!) { a: note(id: $a) { id } b: note(id: $b) { id } }",
        {"a": good, "b": bad},
    )
    assert found == {"a": {"id": good}, "b": None}


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
    assert delta["rev"] == "remote-rev-1" and delta["prev"] == rev[kept]
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
    assert first["checkpoints"]["source"] and first["checkpoints"]["target"]
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
        assert generated and generated != chosen

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


async def test_create_with_an_existing_id_is_refused(server, tokens):
    async with gql_http(server, tokens["admin"]) as session:
        chosen = uid("dup-")
        query = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
        await gql_execute(session, query, {"d": {"id": chosen, "title": "first"}})
        with pytest.raises(TransportQueryError) as raised:
            await gql_execute(session, query, {"d": {"id": chosen, "title": "second"}})
        assert single_code(raised.value.errors or []) == "BAD_USER_INPUT"
        got = await gql_execute(
            session, "query($id: ID!) { note(id: $id) { title } }", {"id": chosen}
        )
        assert got == {"note": {"title": "first"}}


@pytest.mark.parametrize(
    ("single", "plural", "fields", "data", "patch"),
    [
        ("User", "users", "id name email", {"name": "n", "email": "e@x"}, {"name": "m"}),
        (
            "RemoteUser",
            "remoteUsers",
            "id name email",
            {"name": "n", "email": "e@x"},
            {"email": "f@x"},
        ),
        (
            "FinancialRecord",
            "financialRecords",
            "id account amount currency",
            {"account": "acc", "amount": 12.5, "currency": "EUR"},
            {"amount": 99.25},
        ),
    ],
)
async def test_typed_fields_of_every_model(server, tokens, single, plural, fields, data, patch):
    lower = single[0].lower() + single[1:]
    async with gql_http(server, tokens["admin"]) as session:
        model_id = uid(f"{lower}-")
        created = (
            await gql_execute(
                session,
                f"mutation($d: {single}Input!) {{ create{single}(data: $d) {{ {fields} }} }}",
                {"d": {"id": model_id, **data}},
            )
        )[f"create{single}"]
        assert created == {"id": model_id, **data}
        got = (
            await gql_execute(
                session, f"query($id: ID!) {{ {lower}(id: $id) {{ {fields} }} }}", {"id": model_id}
            )
        )[lower]
        assert got == created
        listed = (
            await gql_execute(
                session,
                f"query($w: JSON) {{ {plural}(where: $w, limit: 5) {{ {fields} }} }}",
                {"w": {"id": model_id}},
            )
        )[plural]
        assert listed == [created]
        updated = (
            await gql_execute(
                session,
                f"mutation($id: ID!, $d: {single}Patch!) "
                f"{{ update{single}(id: $id, data: $d) {{ {fields} }} }}",
                {"id": model_id, "d": patch},
            )
        )[f"update{single}"]
        assert updated == {**created, **patch}
        deleted = await gql_execute(
            session, f"mutation($id: ID!) {{ delete{single}(id: $id) }}", {"id": model_id}
        )
        assert deleted == {f"delete{single}": True}
        gone = await gql_execute(
            session, f"query($id: ID!) {{ {lower}(id: $id) {{ id }} }}", {"id": model_id}
        )
        assert gone == {lower: None}
