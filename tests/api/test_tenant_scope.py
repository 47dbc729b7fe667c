"""A tenant-bound token (``token create --tenant t1``, role replicator) sees and writes only
tenant t1's Notes on every path (CONTRACT §5), the change feed included.

Tenants have id spaces of their own: tenant t1's document ``x`` is ``t1:x`` to the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .helpers import PROTOCOLS, Api, Feed, codes, ids_of, make_user_conflict, single_code, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

NOTE = "query($id: ID!) { note(id: $id) { id title tenantId } }"


@dataclass
class World:
    since: str  # before any of the documents below
    a: str  # tenant t1's document, as t1 names it
    b: str  # tenant t2's document, as t2 names it
    c: str  # a document of no tenant
    rev: dict[str, str]  # by the admin's ids

    @property
    def ids(self) -> list[str]:
        return [self.a, self.b, self.c]

    @property
    def a_key(self) -> str:
        return f"t1:{self.a}"

    @property
    def b_key(self) -> str:
        return f"t2:{self.b}"


@pytest.fixture
async def world(server, tokens) -> World:
    admin = Api(server, tokens["admin"])
    since = await admin.checkpoint()
    a, b, c = uid("t1-"), uid("t2-"), uid("tn-")
    a_key, b_key = f"t1:{a}", f"t2:{b}"
    result = await admin.bulk(
        "Note",
        [
            {
                "modelId": a_key,
                "type": "CREATE",
                "data": {"id": a_key, "title": "A", "tenantId": "t1"},
            },
            {
                "modelId": b_key,
                "type": "CREATE",
                "data": {"id": b_key, "title": "B", "tenantId": "t2"},
            },
            {"modelId": c, "type": "CREATE", "data": {"id": c, "title": "C"}},
        ],
    )
    assert [r["status"] for r in result["results"]] == ["APPLIED"] * 3
    return World(since, a, b, c, {r["modelId"]: r["rev"] for r in result["results"]})


async def test_admin_sees_tenant_documents_under_qualified_ids(server, tokens, world):
    admin = Api(server, tokens["admin"])
    query = "query($w: JSON) { notes(where: $w) { id tenantId } }"
    where = {"id": {"inq": [world.a_key, world.b_key, world.c]}}
    assert (await admin.data(query, {"w": where}))["notes"] == [
        {"id": world.a_key, "tenantId": "t1"},
        {"id": world.b_key, "tenantId": "t2"},
        {"id": world.c, "tenantId": None},
    ]
    # A tenant document's id says its tenant: unqualified, or another tenant's, is refused.
    create = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
    for data in ({"id": uid(), "tenantId": "t1"}, {"id": f"t2:{uid()}", "tenantId": "t1"}):
        assert await admin.code(create, {"d": data}) == "BAD_USER_INPUT"
    made = await admin.data(create, {"d": {"title": "no id given", "tenantId": "t1"}})
    assert made["createNote"]["id"].startswith("t1:")
    move = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }"
    assert await admin.code(move, {"id": world.a_key, "d": {"tenantId": "t2"}}) == "BAD_USER_INPUT"


async def test_two_tenants_can_use_the_same_id(server, tokens):
    t1, t2 = Api(server, tokens["t1"]), Api(server, tokens["t2"])
    shared = uid("same-")
    assert (await t1.create_note(id=shared, title="one"))["id"] == shared
    assert (await t2.create_note(id=shared, title="two"))["id"] == shared
    assert (await t1.data(NOTE, {"id": shared}))["note"] == {
        "id": shared,
        "title": "one",
        "tenantId": "t1",
    }
    assert (await t2.data(NOTE, {"id": shared}))["note"]["title"] == "two"


async def test_typed_reads(server, tokens, world):
    t1, t2 = Api(server, tokens["t1"]), Api(server, tokens["t2"])
    query = "query($w: JSON) { notes(where: $w) { id tenantId } }"
    where = {"id": {"inq": world.ids}}
    assert (await t1.data(query, {"w": where}))["notes"] == [{"id": world.a, "tenantId": "t1"}]
    assert (await t2.data(query, {"w": where}))["notes"] == [{"id": world.b, "tenantId": "t2"}]
    every = (await t1.data("query { notes(limit: 5000) { tenantId } }"))["notes"]
    assert every
    assert {n["tenantId"] for n in every} == {"t1"}
    assert (await t1.data(NOTE, {"id": world.a}))["note"]["id"] == world.a
    for other in (world.b, world.c, world.b_key, world.a_key):
        assert (await t1.data(NOTE, {"id": other}))["note"] is None


async def test_changes(server, tokens, world):
    t1 = Api(server, tokens["t1"])
    changes, _ = await t1.all_changes(since=world.since)
    assert ids_of(changes) == [world.a]
    everything, _ = await t1.all_changes(since=None, limit=5000)
    assert everything
    assert {c["data"].get("tenantId") for c in everything} == {"t1"}
    # A filter cannot widen the scope.
    widened, _ = await t1.all_changes(
        since=world.since, where={"or": [{"tenantId": "t2"}, {"tenantId": "t1"}]}
    )
    assert ids_of(widened) == [world.a]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_change_feed(server, tokens, world, protocol):
    admin = Api(server, tokens["admin"])
    async with Feed(server, tokens["t1"], since=world.since, protocol=protocol) as feed:
        assert ids_of([await feed.next()]) == [world.a]
        later_b, later_a = uid("t2-"), uid("t1-")
        await admin.create_note(id=f"t2:{later_b}", tenantId="t2")
        await admin.create_note(id=uid("tn-"))
        await admin.create_note(id=f"t1:{later_a}", tenantId="t1")
        # Live: the t2 and untenanted writes are skipped, the t1 one arrives.
        assert ids_of([await feed.next()]) == [later_a]


async def test_conflicts(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    user_id, _ = await make_user_conflict(admin)
    query = 'query { conflicts(model: "User") { modelId } }'
    assert user_id in [c["modelId"] for c in (await admin.data(query))["conflicts"]]
    # Users have no tenantId: a tenant-bound token sees none of them.
    assert (await t1.data(query))["conflicts"] == []
    notes = (await t1.data('query { conflicts(model: "Note") { targetData } }'))["conflicts"]
    assert all((c["targetData"] or {}).get("tenantId") == "t1" for c in notes)


async def test_diff_does_not_reveal_other_tenants(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    await admin.data(
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "B2"}) { id } }',
        {"id": world.b_key},
    )
    query = (
        "mutation($since: Checkpoint, $changes: [ChangeInput!]!) {"
        ' diff(model: "Note", since: $since, changes: $changes) {'
        " deltas { modelId } conflicts { modelId targetData } } }"
    )
    prev = world.rev[world.b_key]
    remote = [{"modelId": world.b_key, "type": "UPDATE", "rev": "remote", "prev": prev}]
    seen = (await admin.data(query, {"since": world.since, "changes": remote}))["diff"]
    assert [c["modelId"] for c in seen["conflicts"]] == [world.b_key]
    for name in (world.b_key, world.b):
        remote = [{"modelId": name, "type": "UPDATE", "rev": "remote", "prev": prev}]
        scoped = (await t1.data(query, {"since": world.since, "changes": remote}))["diff"]
        assert scoped["conflicts"] == []
        assert "B2" not in str(scoped)


async def test_bulk_update_cannot_leave_the_tenant(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    fresh_t2, fresh_own, same_name = uid("t2-"), uid("t1-"), uid("t1-")
    prev = world.rev[world.b_key]
    result = await t1.bulk(
        "Note",
        [
            # Claiming a document for t2.
            {
                "modelId": world.b,
                "type": "UPDATE",
                "prev": prev,
                "data": {"id": world.b, "title": "hijack", "tenantId": "t2"},
            },
            # A new document in t2.
            {
                "modelId": fresh_t2,
                "type": "CREATE",
                "data": {"id": fresh_t2, "title": "x", "tenantId": "t2"},
            },
            # t2's document by its admin id: just an id of t1's own.
            {"modelId": world.b_key, "type": "DELETE", "prev": prev},
            # The name t2 uses, in t1's own id space: a document of t1's.
            {
                "modelId": world.b,
                "type": "UPDATE",
                "prev": prev,
                "data": {"id": world.b, "title": "t1's own", "tenantId": "t1"},
            },
            # A new document without a tenant: lands in t1.
            {"modelId": fresh_own, "type": "CREATE", "data": {"id": fresh_own, "title": "own"}},
            {"modelId": same_name, "type": "CREATE", "data": {"id": same_name}},
        ],
    )
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["REJECTED", "REJECTED", "APPLIED", "APPLIED", "APPLIED", "APPLIED"]
    assert [r["modelId"] for r in result["results"]][3:5] == [world.b, fresh_own]
    assert (await admin.data(NOTE, {"id": world.b_key}))["note"] == {
        "id": world.b_key,
        "title": "B",
        "tenantId": "t2",
    }
    assert (await admin.data(NOTE, {"id": f"t2:{fresh_t2}"}))["note"] is None
    assert (await admin.data(NOTE, {"id": f"t1:{world.b}"}))["note"]["title"] == "t1's own"
    assert (await admin.data(NOTE, {"id": f"t1:{fresh_own}"}))["note"]["tenantId"] == "t1"


async def test_typed_writes_cannot_leave_the_tenant(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    create = "mutation($d: NoteInput!) { createNote(data: $d) { id tenantId } }"
    other = uid("t2-")
    assert await t1.code(create, {"d": {"id": other, "tenantId": "t2"}}) == "FORBIDDEN"
    for name in (other, f"t2:{other}", f"t1:{other}"):
        assert (await admin.data(NOTE, {"id": name}))["note"] is None
    own = (await t1.data(create, {"d": {"title": "mine"}}))["createNote"]
    assert own["tenantId"] == "t1"
    explicit = (await t1.data(create, {"d": {"title": "mine", "tenantId": "t1"}}))["createNote"]
    assert explicit["tenantId"] == "t1"

    update = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }"
    assert await t1.code(update, {"id": world.b, "d": {"title": "x"}}) == "NOT_FOUND"
    assert await t1.code(update, {"id": world.c, "d": {"title": "x"}}) == "NOT_FOUND"
    moved = await t1.errors(update, {"id": world.a, "d": {"tenantId": "t2"}})
    assert single_code(moved) == "FORBIDDEN"
    assert (await admin.data(NOTE, {"id": world.a_key}))["note"]["tenantId"] == "t1"
    assert (await admin.data(NOTE, {"id": world.b_key}))["note"]["title"] == "B"

    delete = "mutation($id: ID!) { deleteNote(id: $id) }"
    assert (await t1.data(delete, {"id": world.b}))["deleteNote"] is False
    assert (await t1.data(delete, {"id": world.c}))["deleteNote"] is False
    assert (await admin.data(NOTE, {"id": world.b_key}))["note"] is not None
    assert (await admin.data(NOTE, {"id": world.c}))["note"] is not None
    assert (await t1.data(delete, {"id": world.a}))["deleteNote"] is True


async def test_replicate_sees_only_the_tenant(server, tokens, world):
    t1 = Api(server, tokens["t1"])
    body = await t1.post(
        'mutation($w: JSON) { replicate(source: "Note", target: "Note", where: $w) '
        "{ updates { modelId status } conflicts { modelId } } }",
        {"w": {"id": {"inq": world.ids}}},
    )
    assert codes(body.get("errors") or []) == [], body
    assert [u["modelId"] for u in body["data"]["replicate"]["updates"]] == [world.a]
    # Users carry no tenant: nothing of them is visible, so nothing is copied.
    admin = Api(server, tokens["admin"])
    user = uid("tu-")
    await admin.data(
        "mutation($d: UserInput!) { createUser(data: $d) { id } }", {"d": {"id": user, "name": "x"}}
    )
    body = await t1.post(
        'mutation($w: JSON) { replicate(source: "User", target: "RemoteUser", where: $w) '
        "{ updates { modelId } } }",
        {"w": {"id": user}},
    )
    assert codes(body.get("errors") or []) == [], body
    assert body["data"]["replicate"]["updates"] == []
    assert (await admin.data("query($id: ID!) { remoteUser(id: $id) { id } }", {"id": user}))[
        "remoteUser"
    ] is None
