"""RxDB 17.6 (memory storage in Node) synced with ``replicateGraphQL`` and RxDB's own query
builders only (tests/js/web/rxdb-sync.mjs, the README's recipe), against a real server:
the pull, the push and the live stream of CONTRACT §8, conflicts, permissions, tenancy.

Each test opens RxDB databases of its own (one per token, as one per user of a web app)
in one Node process (tests/js/web/rxdb-client.mjs) shared by the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from servers import Server, ServerFactory

from .helpers import Api, uid
from .node import NodeClient

NOTE = "id title body tags views tenantId"
USER = "id name email"
RECORD = "id account amount currency"
LATENCY_WRITES = 50
PAGE = 100  # the documents per pull<Model> (pull.batchSize in rxdb-sync.mjs)
PUSH_NOTES = "mutation($rows: [NoteInputPushRow!]) { pushNote(notePushRow: $rows) { id } }"
NOTES = "query($ids: [ID!]) { notes(where: {id: {inq: $ids}}, limit: 500) { id views } }"


@pytest.fixture(scope="module", params=["sqlite", "mongodb"])
def servers(request: pytest.FixtureRequest) -> ServerFactory:
    """The module runs once on each store."""
    factory: ServerFactory = request.getfixturevalue(f"{request.param}_servers")
    return factory


@pytest.fixture(scope="module")
def rxdb(node: str, server: Server) -> Iterator[NodeClient]:
    client = NodeClient(node, "rxdb-client.mjs")
    yield client
    assert client.close() == 0, client.stderr()


@pytest.fixture(scope="module")
def admin(server: Server) -> Api:
    return Api(server, server.token("admin"))


@dataclass
class RxDatabase:
    """One RxDB database of the Node process, synced with one token."""

    client: NodeClient
    name: str
    docs: dict[str, list[dict[str, Any]]]  # by model: what the initial pull brought

    def __call__(self, cmd: str, model: str = "note", **args: Any) -> Any:
        return self.client.call(cmd, db=self.name, model=model, **args)

    def sent(self, operation: str, model: str = "note") -> int:
        """How many requests of ``operation`` ("Pull", "Push") RxDB has sent so far."""
        operations = self("log", model)["operations"]
        return sum(1 for name in operations if name and name.startswith(operation))


def open_db(
    rxdb: NodeClient,
    server: Server,
    role: str,
    tenant: str | None = None,
    models: tuple[str, ...] = ("note",),
    ws: str | None = None,
    include_ws_headers: bool = False,
    schemas: dict[str, str] | None = None,
) -> RxDatabase:
    name = uid(f"{role}-")
    docs = rxdb.call(
        "open",
        db=name,
        token=server.token(role, tenant),
        http=server.url,
        ws=ws or server.ws_url,
        models=list(models),
        includeWsHeaders=include_ws_headers,
        schemas=schemas or {},
    )
    return RxDatabase(rxdb, name, docs)


@pytest.fixture(scope="module")
def writer(rxdb: NodeClient, server: Server) -> RxDatabase:
    """A writer's database, with Notes and Users."""
    return open_db(rxdb, server, "writer", models=("note", "user"))


def local(doc: dict[str, Any] | None, fields: str) -> dict[str, Any] | None:
    """An RxDB document's fields (RxDB has null where the server has none)."""
    if doc is None:
        return None
    return {name: doc.get(name) for name in fields.split()}


def test_initial_pull_brings_the_servers_documents_page_by_page(rxdb, server, admin):
    many = [uid("page-") for _ in range(2 * PAGE + 5)]
    assert admin(PUSH_NOTES, rows=[{"newDocumentState": {"id": i, "views": 1}} for i in many])
    kept = [
        admin.create("Note", NOTE, id=uid("pull-"), title="a", tags=["x", "y"], views=2),
        admin.create("Note", NOTE, id=uid("pull-"), body="only a body"),
    ]
    gone = admin.create("Note", NOTE, id=uid("pull-"), title="deleted")
    assert admin.delete("Note", gone["id"])

    db = open_db(rxdb, server, "writer")

    by_id = {doc["id"]: doc for doc in db.docs["note"]}
    assert [local(by_id.get(doc["id"]), NOTE) for doc in kept] == kept
    assert gone["id"] not in by_id
    assert set(many) <= set(by_id)
    assert db.sent("Pull") >= 3


def test_rxdb_insert_update_and_delete_reach_the_server(writer, admin):
    note_id = uid("rx-")

    writer("insert", doc={"id": note_id, "title": "from RxDB", "tags": ["a", "b"], "views": 1})
    assert admin.get("Note", NOTE, note_id) == {
        "id": note_id,
        "title": "from RxDB",
        "body": None,
        "tags": ["a", "b"],
        "views": 1,
        "tenantId": None,
    }

    writer("patch", id=note_id, patch={"body": "edited", "tags": ["a", "b", "c"]})
    server_note = admin.get("Note", NOTE, note_id)
    assert server_note is not None
    assert (server_note["body"], server_note["tags"]) == ("edited", ["a", "b", "c"])

    writer("remove", id=note_id)
    assert admin.get("Note", NOTE, note_id) is None


def test_many_local_writes_reach_the_server_in_one_push(writer, admin):
    ids = [uid("bulk-") for _ in range(30)]
    pushes = writer.sent("Push")

    writer("bulkInsert", docs=[{"id": i, "views": n} for n, i in enumerate(ids)])

    on_server = admin(NOTES, ids=ids)["notes"]
    assert sorted((n["id"], n["views"]) for n in on_server) == sorted(
        (i, n) for n, i in enumerate(ids)
    )
    assert writer.sent("Push") == pushes + 1


def test_a_row_the_server_cannot_take_is_refused_alone_and_reverted(rxdb, server, admin):
    # This collection lets views be any number; the server's views are Ints.
    db = open_db(rxdb, server, "writer", schemas={"note": "looseNote"})
    fits, misfit = uid("fits-"), uid("misfit-")

    db("bulkInsert", docs=[{"id": fits, "views": 2}, {"id": misfit, "views": 1.5}])

    assert admin.get("Note", "id views", fits) == {"id": fits, "views": 2}
    assert admin.get("Note", "id views", misfit) is None
    # The server answered its master state (none: a tombstone); RxDB took it.
    assert db("waitFor", id=misfit, gone=True) is None
    answered = [c["input"]["realMasterState"] for c in db("log")["conflicts"]]
    assert [(d["id"], d["_deleted"]) for d in answered] == [(misfit, True)]
    after = uid("after-")
    db("insert", doc={"id": after, "views": 3})
    assert admin.get("Note", "id views", after) == {"id": after, "views": 3}


def test_server_writes_arrive_live_without_a_pull(writer, admin):
    note_id = uid("live-")
    pulls = writer.sent("Pull")

    admin.create("Note", NOTE, id=note_id, title="created on the server", views=5)
    arrived = writer("waitFor", id=note_id, fields={"title": "created on the server"})
    assert local(arrived, NOTE) == {
        "id": note_id,
        "title": "created on the server",
        "body": None,
        "tags": None,
        "views": 5,
        "tenantId": None,
    }

    admin.update("Note", NOTE, note_id, title="updated on the server")
    writer("waitFor", id=note_id, fields={"title": "updated on the server", "views": 5})

    assert admin.delete("Note", note_id)
    assert writer("waitFor", id=note_id, gone=True) is None

    assert writer.sent("Pull") == pulls, "the changes came by a pull, not by the stream"


def test_concurrent_note_edits_converge_to_the_per_field_merge(writer, admin):
    note_id = uid("merge-")
    writer("insert", doc={"id": note_id, "title": "t0", "body": "b0", "tags": ["a"], "views": 1})
    writer("pause")
    admin.update("Note", NOTE, note_id, title="title from the server", tags=["a", "s"], views=5)
    writer(
        "patch",
        id=note_id,
        patch={"body": "body from RxDB", "tags": ["a", "r"], "views": 3},
        sync=False,
    )

    writer("resume")

    # title and body: each side changed one; tags: UNION; views: MAX.
    merged = {"title": "title from the server", "body": "body from RxDB", "views": 5}
    in_rxdb = writer("waitFor", id=note_id, fields=merged)
    writer("sync")
    on_server = admin.get("Note", NOTE, note_id)
    assert on_server is not None
    assert {k: on_server[k] for k in merged} == merged
    assert sorted(on_server["tags"]) == ["a", "r", "s"]
    assert in_rxdb["tags"] == on_server["tags"]
    # The server answered the merge as the master state; RxDB's (default) handler took it.
    answered = [c["input"]["realMasterState"] for c in writer("log")["conflicts"]]
    assert [local(doc, NOTE) for doc in answered if doc["id"] == note_id] == [on_server]


def test_user_conflict_on_a_manual_field_reaches_rxdbs_conflict_handler(writer, admin):
    user_id = uid("user-")
    writer("insert", "user", doc={"id": user_id, "name": "Ann", "email": "ann@example.com"})
    writer("pause", "user")
    admin.update("User", USER, user_id, name="Server")
    writer("patch", "user", id=user_id, patch={"name": "Rx"}, sync=False)

    writer("resume", "user")

    writer("waitFor", "user", id=user_id, fields={"name": "Server & Rx"})
    handled = [
        c for c in writer("log", "user")["resolved"] if c["newDocumentState"]["id"] == user_id
    ]
    assert [
        (
            c["assumedMasterState"]["name"],
            c["realMasterState"]["name"],
            c["newDocumentState"]["name"],
        )
        for c in handled
    ] == [("Ann", "Server", "Rx")]
    writer("sync", "user")
    assert admin.get("User", USER, user_id) == {
        "id": user_id,
        "name": "Server & Rx",
        "email": "ann@example.com",
    }
    # The pusher resolves a refused push: the server recorded no conflict.
    recorded = admin('{ conflicts(model: "User") { modelId } }')["conflicts"]
    assert user_id not in [c["modelId"] for c in recorded]


def test_financial_record_with_a_whole_number_float_edits_cleanly(rxdb, server, admin):
    on_server = uid("fr-")
    admin.create("FinancialRecord", RECORD, id=on_server, account="A", amount=100.0, currency="EUR")
    # Its own WebSocket (another URL), with the token in connection_init as well.
    db = open_db(
        rxdb,
        server,
        "admin",
        models=("financialRecord",),
        ws=f"{server.ws_url}?socket=own",
        include_ws_headers=True,
    )
    assert on_server in [doc["id"] for doc in db.docs["financialRecord"]]

    db("patch", "financialRecord", id=on_server, patch={"currency": "USD"})
    from_rxdb = uid("fr-")
    db("insert", "financialRecord", doc={"id": from_rxdb, "account": "B", "amount": 250})
    db("patch", "financialRecord", id=from_rxdb, patch={"currency": "CHF"})

    assert admin.get("FinancialRecord", RECORD, on_server) == {
        "id": on_server,
        "account": "A",
        "amount": 100.0,
        "currency": "USD",
    }
    assert admin.get("FinancialRecord", RECORD, from_rxdb) == {
        "id": from_rxdb,
        "account": "B",
        "amount": 250.0,
        "currency": "CHF",
    }
    log = db("log", "financialRecord")
    assert (log["conflicts"], log["resolved"], log["errors"]) == ([], [], [])

    admin.update("FinancialRecord", RECORD, on_server, amount=7.0)
    db("waitFor", "financialRecord", id=on_server, fields={"amount": 7, "currency": "USD"})


def test_reader_pulls_and_streams_but_its_push_is_forbidden(rxdb, server, admin):
    before = admin.create("Note", NOTE, id=uid("read-"), title="before")
    db = open_db(rxdb, server, "reader")
    assert before["id"] in [doc["id"] for doc in db.docs["note"]]
    after = admin.create("Note", NOTE, id=uid("read-"), title="after")
    db("waitFor", id=after["id"], fields={"title": "after"})

    mine = uid("read-")
    db("insert", doc={"id": mine, "title": "not allowed"}, sync=False)

    error = db("waitForError", code="FORBIDDEN")
    assert error["code"] == "RC_PUSH"
    assert admin.get("Note", NOTE, mine) is None


def test_tenant_bound_writer_sees_only_its_tenant(rxdb, server, admin):
    own, other = uid("t1-"), uid("t2-")
    admin.create("Note", NOTE, id=f"t1:{own}", title="t1's", tenantId="t1")
    admin.create("Note", NOTE, id=f"t2:{other}", title="t2's", tenantId="t2")
    untenanted = admin.create("Note", NOTE, id=uid("none-"), title="no tenant's")

    db = open_db(rxdb, server, "writer", tenant="t1")

    pulled = {doc["id"]: local(doc, "id title tenantId") for doc in db.docs["note"]}
    assert pulled.get(own) == {"id": own, "title": "t1's", "tenantId": "t1"}
    assert {other, f"t2:{other}", untenanted["id"]}.isdisjoint(pulled)
    assert all(doc["tenantId"] == "t1" for doc in pulled.values())

    live_other, live_own = uid("t2-"), uid("t1-")
    admin.create("Note", NOTE, id=f"t2:{live_other}", title="t2's", tenantId="t2")
    admin.create("Note", NOTE, id=f"t1:{live_own}", title="t1's live", tenantId="t1")
    db("waitFor", id=live_own, fields={"title": "t1's live", "tenantId": "t1"})
    # The stream is in log order: t2's note, written first, would have come first.
    assert {live_other, f"t2:{live_other}"}.isdisjoint(doc["id"] for doc in db("all"))

    written = uid("t1-")
    db("insert", doc={"id": written, "title": "written by t1"})
    on_server = admin.get("Note", "id title tenantId", f"t1:{written}")
    assert on_server == {"id": f"t1:{written}", "title": "written by t1", "tenantId": "t1"}
    db("waitFor", id=written, fields={"tenantId": "t1"})


def test_latency_from_a_server_write_to_the_rxdb_collection(writer, server, admin, capsys):
    note_id = uid("latency-")
    admin.create("Note", NOTE, id=note_id, title="latency")
    writer("waitFor", id=note_id, fields={"title": "latency"})

    measured = writer(
        "latency", http=server.url, token=server.token("admin"), id=note_id, count=LATENCY_WRITES
    )

    assert measured["count"] == LATENCY_WRITES
    with capsys.disabled():
        print(
            f"\nserver write -> RxDB collection, {LATENCY_WRITES} writes on "
            f"{server.store.partition(':')[0]}: "
            f"p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms, "
            f"max {measured['max']:.1f} ms"
        )


def test_rxdb_catches_up_after_the_server_restarts(writer, servers, server, admin):
    before = uid("restart-")
    admin.create("Note", NOTE, id=before, title="streamed")
    writer("waitFor", id=before, fields={"title": "streamed"})  # the stream is live

    servers.restart(server)

    written_after = uid("restart-")
    admin.create("Note", NOTE, id=written_after, title="after the restart")
    writer("waitFor", id=written_after, fields={"title": "after the restart"})
    mine = uid("restart-")
    writer("insert", doc={"id": mine, "title": "from RxDB after the restart"})
    on_server = admin.get("Note", NOTE, mine)
    assert on_server is not None
    assert on_server["title"] == "from RxDB after the restart"
    live = uid("restart-")
    admin.create("Note", NOTE, id=live, title="live again")
    writer("waitFor", id=live, fields={"title": "live again"})
