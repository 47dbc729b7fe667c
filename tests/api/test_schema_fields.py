"""The contract's fields in detail (CONTRACT §2, §4, §7) on the schema in process
(in_process.py): paging and filtering changes, bulkUpdate's merges and conflicts, typed
fields of every model. Each field family is also served over real HTTP in
test_http_fields.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .helpers import (
    CHANGES,
    GraphQLErrors,
    ids_of,
    make_user_conflict,
    notes_for_bulk,
    single_code,
    uid,
)
from .in_process import LocalServer


def stamp(ms: int, node: str = "feedbeef") -> str:
    """A hybrid logical clock stamp as the server writes them (CONTRACT §3: LATEST)."""
    return f"{ms:012x}{0:04x}{node}"


async def test_changes_pages_with_limit_and_has_more(local: LocalServer):
    api = await local.api("admin")
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
        assert change["rev"]
        assert change["prev"] is None
        assert change["data"]["id"] == change["modelId"]
        assert change["data"]["title"] == change["modelId"]
        assert isinstance(change["clock"], dict)
        assert "title" in change["clock"]
    rest = (await api.data(CHANGES, {"model": "Note", "since": cursor, "limit": 10}))["changes"]
    assert rest["changes"] == []
    assert rest["hasMore"] is False


async def test_changes_default_limit_and_maximum_limit(local: LocalServer):
    api = await local.api("admin")
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
    assert len(default["changes"]) == 500
    assert default["hasMore"] is True
    biggest = (await api.data(CHANGES, {"model": "Note", "since": since, "limit": 5000}))["changes"]
    assert ids_of(biggest["changes"]) == ids
    assert biggest["hasMore"] is False
    one = (await api.data(CHANGES, {"model": "Note", "since": since, "limit": 1}))["changes"]
    assert ids_of(one["changes"]) == ids[:1]
    assert one["hasMore"] is True


async def test_changes_report_each_document_once_at_its_latest_state(local: LocalServer):
    api = await local.api("admin")
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
    assert update["type"] == "UPDATE"
    assert update["data"]["title"] == "v3"
    assert update["prev"]
    assert update["rev"]
    assert update["prev"] != update["rev"]
    assert delete["type"] == "DELETE"
    assert delete["rev"] is None
    assert delete["data"] is None
    assert delete["prev"]


async def test_changes_where_filter_operators(local: LocalServer):
    api = await local.api("admin")
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


async def test_bulk_update_merges_per_field_strategies(local: LocalServer):
    """Note: title/body LATEST, tags UNION, views MAX; each side changed other fields."""
    api = await local.api("admin")
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


async def test_bulk_update_latest_follows_the_clock(local: LocalServer):
    """Both sides changed the title: LATEST keeps the value with the greater clock stamp,
    whatever order the updates arrive in."""
    api = await local.api("admin")
    nid = uid("clock-")
    r0 = (await api.bulk("Note", notes_for_bulk([nid])))["results"][0]["rev"]
    await api.data(
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "local"}) { id } }', {"id": nid}
    )
    changes, _ = await api.all_changes(where={"id": nid})
    local_stamp = changes[-1]["clock"]["title"]
    assert isinstance(local_stamp, str)
    assert len(local_stamp) >= 16

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


async def test_bulk_update_conflict_is_recorded_and_listed(local: LocalServer):
    api = await local.api("admin")
    user_id, _ = await make_user_conflict(api)
    listed = (
        await api.data(
            'query { conflicts(model: "User") { model modelId sourceRev targetRev sourceData '
            "targetData fields } }"
        )
    )["conflicts"]
    mine = [c for c in listed if c["modelId"] == user_id]
    assert len(mine) == 1
    assert mine[0]["fields"] == ["name"]
    assert mine[0]["sourceData"]["name"] == "c"


async def test_bulk_update_one_bad_update_does_not_abort_the_others(local: LocalServer):
    api = await local.api("admin")
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


async def test_create_with_an_existing_id_is_refused(local: LocalServer):
    api = await local.api("admin")
    chosen = uid("dup-")
    query = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
    await api.data(query, {"d": {"id": chosen, "title": "first"}})
    with pytest.raises(GraphQLErrors) as raised:
        await api.data(query, {"d": {"id": chosen, "title": "second"}})
    assert single_code(raised.value.errors or []) == "BAD_USER_INPUT"
    got = await api.data("query($id: ID!) { note(id: $id) { title } }", {"id": chosen})
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
async def test_typed_fields_of_every_model(local: LocalServer, single, plural, fields, data, patch):
    lower = single[0].lower() + single[1:]
    api = await local.api("admin")
    model_id = uid(f"{lower}-")
    created = (
        await api.data(
            f"mutation($d: {single}Input!) {{ create{single}(data: $d) {{ {fields} }} }}",
            {"d": {"id": model_id, **data}},
        )
    )[f"create{single}"]
    assert created == {"id": model_id, **data}
    got = (
        await api.data(f"query($id: ID!) {{ {lower}(id: $id) {{ {fields} }} }}", {"id": model_id})
    )[lower]
    assert got == created
    listed = (
        await api.data(
            f"query($w: JSON) {{ {plural}(where: $w, limit: 5) {{ {fields} }} }}",
            {"w": {"id": model_id}},
        )
    )[plural]
    assert listed == [created]
    updated = (
        await api.data(
            f"mutation($id: ID!, $d: {single}Patch!) "
            f"{{ update{single}(id: $id, data: $d) {{ {fields} }} }}",
            {"id": model_id, "d": patch},
        )
    )[f"update{single}"]
    assert updated == {**created, **patch}
    deleted = await api.data(f"mutation($id: ID!) {{ delete{single}(id: $id) }}", {"id": model_id})
    assert deleted == {f"delete{single}": True}
    gone = await api.data(f"query($id: ID!) {{ {lower}(id: $id) {{ id }} }}", {"id": model_id})
    assert gone == {lower: None}
