"""A tenant-bound token (``token create --tenant t1``, role replicator) sees and writes only
tenant t1's Notes on every path (CONTRACT §5), the change feed included."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .helpers import PROTOCOLS, Api, Feed, codes, ids_of, make_user_conflict, single_code, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

NOTE = "query($id: ID!) { note(id: $id) { id title tenantId } }"


@dataclass
class World:
    since: str  # before any of the documents below
    a: str  # tenant t1
    b: str  # tenant t2
    c: str  # no tenant
    rev: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return [self.a, self.b, self.c]


@pytest.fixture
async def world(server, tokens) -> World:
    admin = Api(server, tokens["admin"])
    since = await admin.checkpoint()
    a, b, c = uid("t1-"), uid("t2-"), uid("tn-")
    result = await admin.bulk(
        "Note",
        [
            {"modelId": a, "type": "CREATE", "data": {"id": a, "title": "A", "tenantId": "t1"}},
            {"modelId": b, "type": "CREATE", "data": {"id": b, "title": "B", "tenantId": "t2"}},
            {"modelId": c, "type": "CREATE", "data": {"id": c, "title": "C"}},
        ],
    )
    assert [r["status"] for r in result["results"]] == ["APPLIED"] * 3
    return World(since, a, b, c, {r["modelId"]: r["rev"] for r in result["results"]})


async def test_typed_reads(server, tokens, world):
    t1, t2 = Api(server, tokens["t1"]), Api(server, tokens["t2"])
    query = "query($w: JSON) { notes(where: $w) { id tenantId } }"
    where = {"id": {"inq": world.ids}}
    assert (await t1.data(query, {"w": where}))["notes"] == [{"id": world.a, "tenantId": "t1"}]
    assert (await t2.data(query, {"w": where}))["notes"] == [{"id": world.b, "tenantId": "t2"}]
    every = (await t1.data("query { notes(limit: 5000) { tenantId } }"))["notes"]
    assert every and {n["tenantId"] for n in every} == {"t1"}
    assert (await t1.data(NOTE, {"id": world.a}))["note"]["id"] == world.a
    assert (await t1.data(NOTE, {"id": world.b}))["note"] is None
    assert (await t1.data(NOTE, {"id": world.c}))["note"] is None


async def test_changes(server, tokens, world):
    t1 = Api(server, tokens["t1"])
    changes, _ = await t1.all_changes(since=world.since)
    assert ids_of(changes) == [world.a]
    everything, _ = await t1.all_changes(since=None, limit=5000)
    assert everything and {c["data"].get("tenantId") for c in everything} == {"t1"}
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
        await admin.create_note(id=later_b, tenantId="t2")
        await admin.create_note(id=uid("tn-"))
        await admin.create_note(id=later_a, tenantId="t1")
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
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "B2"}) { id } }', {"id": world.b}
    )
    query = (
        "mutation($since: Checkpoint, $changes: [ChangeInput!]!) {"
        ' diff(model: "Note", since: $since, changes: $changes) {'
        " deltas { modelId } conflicts { modelId targetData } } }"
    )
    remote = [{"modelId": world.b, "type": "UPDATE", "rev": "remote", "prev": world.rev[world.b]}]
    seen = (await admin.data(query, {"since": world.since, "changes": remote}))["diff"]
    assert [c["modelId"] for c in seen["conflicts"]] == [world.b]
    scoped = (await t1.data(query, {"since": world.since, "changes": remote}))["diff"]
    assert scoped["conflicts"] == []
    assert "B2" not in str(scoped)


async def test_bulk_update_cannot_leave_the_tenant(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    fresh_t2, fresh_own = uid("t2-"), uid("t1-")
    result = await t1.bulk(
        "Note",
        [
            # Into an existing t2 document, keeping it in t2.
            {
                "modelId": world.b,
                "type": "UPDATE",
                "prev": world.rev[world.b],
                "data": {"id": world.b, "title": "hijack", "tenantId": "t2"},
            },
            # Into an existing t2 document, claiming it for t1.
            {
                "modelId": world.b,
                "type": "UPDATE",
                "prev": world.rev[world.b],
                "data": {"id": world.b, "title": "hijack", "tenantId": "t1"},
            },
            # A new document in t2.
            {
                "modelId": fresh_t2,
                "type": "CREATE",
                "data": {"id": fresh_t2, "title": "x", "tenantId": "t2"},
            },
            # Deleting a t2 document.
            {"modelId": world.b, "type": "DELETE", "prev": world.rev[world.b]},
            # A new document without a tenant: lands in t1.
            {"modelId": fresh_own, "type": "CREATE", "data": {"id": fresh_own, "title": "own"}},
        ],
    )
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["REJECTED", "REJECTED", "REJECTED", "REJECTED", "APPLIED"], result
    assert (await admin.data(NOTE, {"id": world.b}))["note"] == {
        "id": world.b,
        "title": "B",
        "tenantId": "t2",
    }
    assert (await admin.data(NOTE, {"id": fresh_t2}))["note"] is None
    assert (await admin.data(NOTE, {"id": fresh_own}))["note"]["tenantId"] == "t1"


async def test_typed_writes_cannot_leave_the_tenant(server, tokens, world):
    admin, t1 = Api(server, tokens["admin"]), Api(server, tokens["t1"])
    create = "mutation($d: NoteInput!) { createNote(data: $d) { id tenantId } }"
    other = uid("t2-")
    assert await t1.code(create, {"d": {"id": other, "tenantId": "t2"}}) == "FORBIDDEN"
    assert (await admin.data(NOTE, {"id": other}))["note"] is None
    own = (await t1.data(create, {"d": {"title": "mine"}}))["createNote"]
    assert own["tenantId"] == "t1"
    explicit = (await t1.data(create, {"d": {"title": "mine", "tenantId": "t1"}}))["createNote"]
    assert explicit["tenantId"] == "t1"

    update = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }"
    assert await t1.code(update, {"id": world.b, "d": {"title": "x"}}) == "NOT_FOUND"
    assert await t1.code(update, {"id": world.c, "d": {"title": "x"}}) == "NOT_FOUND"
    moved = await t1.errors(update, {"id": world.a, "d": {"tenantId": "t2"}})
    assert single_code(moved) == "FORBIDDEN"
    assert (await admin.data(NOTE, {"id": world.a}))["note"]["tenantId"] == "t1"
    assert (await admin.data(NOTE, {"id": world.b}))["note"]["title"] == "B"

    delete = "mutation($id: ID!) { deleteNote(id: $id) }"
    assert (await t1.data(delete, {"id": world.b}))["deleteNote"] is False
    assert (await t1.data(delete, {"id": world.c}))["deleteNote"] is False
    assert (await admin.data(NOTE, {"id": world.b}))["note"] is not None
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
