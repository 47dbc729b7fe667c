"""The permission matrix (CONTRACT §2, §4, §5), generated from the schema the server
exports: every principal (no token, an unknown token, each role, tenant-bound tokens) by
every root field (per model, or pair of models for ``replicate``) by every transport (HTTP,
``graphql-transport-ws``, legacy ``graphql-ws``), each answer compared with the one the
field's ``@auth`` and the contract's roles call for. A field without ``@auth``, or one the
generator cannot build an operation for, fails the test by name (``matrix.py``).

Then tenant isolation on every path: for a tenant-bound token, another tenant's document
must look exactly like one that never existed, and no write may land in another tenant.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema
from servers import graphql_repl_command  # tests/servers.py

from . import matrix as mx
from .helpers import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    Api,
    assert_clean,
    auth_headers,
    make_user_conflict,
    uid,
)

pytestmark = pytest.mark.usefixtures("check_server_alive")

TRANSPORTS = (mx.HTTP, TRANSPORT_WS, LEGACY_WS)
ROOT_SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


@pytest.fixture(scope="module")
def sdl() -> str:
    return mx.exported_sdl(graphql_repl_command())


@pytest.fixture(scope="module")
def generated(sdl: str) -> tuple[Any, list[mx.Op]]:
    return mx.generate(sdl)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """Rows as aligned columns, for a failure message."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])


# -- the schema: every field is covered ----------------------------------------------------


@pytest.mark.parametrize("source", ["export-schema", "schema.graphql"])
def test_every_root_field_declares_exactly_one_auth(sdl, source):
    text = sdl if source == "export-schema" else ROOT_SDL.read_text()
    assert mx.missing_auth(build_schema(text)) == []


def test_a_field_without_auth_or_with_an_unknown_argument_cannot_escape(sdl):
    """The generator's own guard: a new field must carry @auth, and every argument it has
    must be one the generator knows how to fill."""
    without = sdl + "\nextend type Query { secretNotes: [Note!]! }\n"
    assert mx.missing_auth(build_schema(without)) == ["Query.secretNotes (@auth: none)"]
    with pytest.raises(mx.MatrixError, match=r"Query\.secretNotes: no single @auth"):
        mx.generate(without)
    odd = sdl + (
        "\nextend type Mutation { purge(model: String!, olderThan: Int!): Boolean! "
        "@auth(requires: WRITE) }\n"
    )
    with pytest.raises(mx.MatrixError, match=r"Mutation\.purge\(olderThan: Int!\)"):
        mx.generate(odd)
    unowned = sdl + "\nextend type Query { stats: Int! @auth(requires: READ) }\n"
    with pytest.raises(mx.MatrixError, match=r"Query\.stats: cannot tell which model"):
        mx.generate(unowned)


def test_the_matrix_has_every_field_and_model(generated):
    schema, ops = generated
    models = mx.models_of(schema)
    assert sorted(models) == sorted(mx.MODEL_ROLES)
    covered = {(op.root, op.field) for op in ops}
    for root in mx.root_types(schema):
        for name in root.fields:
            assert (root.name, name) in covered, f"{root.name}.{name}"
    pairs = {op.models for op in ops if op.field == "replicate"}
    assert len(pairs) == len(models) ** 2
    assert {m for op in ops if op.field == "changes" for m, _ in op.models} == set(models)


# -- queries and mutations on every transport ---------------------------------------------


async def _run_all(
    run: Callable[[str, dict[str, Any]], Awaitable[mx.Reply]], ops: list[mx.Op]
) -> list[mx.Reply]:
    limit = asyncio.Semaphore(16)

    async def one(op: mx.Op) -> mx.Reply:
        async with limit:
            return await run(op.query, op.variables)

    return list(await asyncio.gather(*(one(op) for op in ops)))


async def _replies(
    server, transport: str, principal: mx.Principal, ops: list[mx.Op]
) -> list[mx.Reply]:
    token = mx.token_of(server, principal)
    if transport == mx.HTTP:
        async with mx.http_client() as client:
            return await _run_all(mx.Http(server, token, client).run, ops)
    try:
        async with mx.Ws(server, transport, token) as ws:
            return await _run_all(ws.run, ops)
    except mx.Rejected as rejected:
        return [mx.Reply(rejected=str(rejected)) for _ in ops]


def _on(doc_id: str) -> dict[str, Callable[[dict[str, str]], Any]]:
    """Generator overrides: every operation that names a document names ``doc_id``."""
    return {
        "id": lambda b: doc_id,
        "modelId": lambda b: doc_id,
        "where": lambda b: {"id": doc_id},
    }


async def _seed_existing(server, models: list[str]) -> str:
    """One document with the same new id in every model, of no tenant, written by an admin."""
    admin = Api(server, server.token("admin"))
    doc_id = uid("mx-existing-")
    for model in models:
        await admin.data(
            f"mutation($d: {model}Input!) {{ create{model}(data: $d) {{ id }} }}",
            {"d": {"id": doc_id}},
        )
    return doc_id


async def _still_there(server, models: list[str], doc_id: str) -> list[str]:
    admin = Api(server, server.token("admin"))
    gone = []
    for model in models:
        get = model[0].lower() + model[1:]
        found = await admin.data(f"query($id: ID!) {{ {get}(id: $id) {{ id }} }}", {"id": doc_id})
        if found[get] is None:
            gone.append(model)
    return gone


def _sees(schema, principal: mx.Principal, op: mx.Op, transport: str) -> bool:
    """Whether ``principal`` may see a document of no tenant through ``op``."""
    want = mx.expected(schema, principal, op, transport)
    blocked = (mx.UNAUTHENTICATED, mx.FORBIDDEN, mx.REJECTED, mx.LEGACY_REFUSED)
    return principal.tenant is None and want not in blocked


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_permission_matrix(server, sdl, generated, transport):
    """Every principal, every query and mutation (on absent documents): the outcome the
    contract gives. And where the principal may not see a document (no or unknown token,
    no permission, or a tenant-bound token: the document has no tenant), the operation on
    an existing document answers exactly as on an absent one (CONTRACT §5: neither leaks
    whether a document exists)."""
    schema, ops = generated
    models = mx.models_of(schema)
    existing = await _seed_existing(server, models)
    _, on_existing = mx.generate(sdl, _on(existing))
    pairs = [(a, e) for a, e in zip(ops, on_existing, strict=True) if a.root != "Subscription"]
    mismatches: list[tuple[str, ...]] = []
    leaks: list[tuple[str, ...]] = []
    checked = compared = 0
    started = time.monotonic()
    for principal in mx.PRINCIPALS:
        blind = [
            (a, e)
            for a, e in pairs
            if e.variables != a.variables and not _sees(schema, principal, a, transport)
        ]
        replies = await _replies(
            server, transport, principal, [a for a, _ in pairs] + [e for _, e in blind]
        )
        on_absent = dict(zip([a.label for a, _ in pairs], replies, strict=False))
        for (op, _), reply in zip(pairs, replies, strict=False):
            checked += 1
            want = mx.expected(schema, principal, op, transport)
            got = mx.outcome(reply, op)
            for error in reply.errors:
                assert_clean(error)
            if reply.rejected is not None and not mx.rejection_matches(reply.rejected, transport):
                got = f"rejected as {reply.rejected}"
            if got != want:
                detail = reply.rejected or str(reply.errors or reply.data)[:160]
                mismatches.append((principal.name, op.label, want, got, detail))
        for (op, _), reply in zip(blind, replies[len(pairs) :], strict=True):
            compared += 1
            absent = on_absent[op.label]
            if reply.comparable(existing) != absent.comparable(mx.ABSENT):
                shown = [str(r.errors or r.data)[:100] for r in (reply, absent)]
                leaks.append((principal.name, op.label, *shown))
    print(
        f"{transport}: {checked} operations, {compared} compared on an existing document,"
        f" in {time.monotonic() - started:.1f} s"
    )
    assert not mismatches, f"{len(mismatches)} of {checked} answers differ:\n" + table(
        mismatches, ("principal", "operation", "expected", "got", "answer")
    )
    assert not leaks, f"{len(leaks)} answers tell an existing document from none:\n" + table(
        leaks, ("principal", "operation", "on the document", "on an absent id")
    )
    assert await _still_there(server, models, existing) == []


# -- the change feed on both WebSocket subprotocols ---------------------------------------


async def _create(api: Api, model: str, **fields: Any) -> str:
    doc_id = uid(f"mx-{model[:4].lower()}-")
    await api.data(
        f"mutation($d: {model}Input!) {{ create{model}(data: $d) {{ id }} }}",
        {"d": {"id": doc_id, **fields}},
    )
    return doc_id


async def _seed_feeds(server, schema) -> dict[str, tuple[str, str, str | None]]:
    """Per model: a checkpoint, then a document of no tenant (by an admin), one of tenant m2
    and one of m1 (each by a token of that tenant). Returns the checkpoint, the first
    document after it (what a token of no tenant sees first) and m1's (None for a model
    without tenants: m1 sees nothing of it)."""
    admin = Api(server, server.token("admin"))
    out = {}
    for model in mx.models_of(schema):
        since = await admin.checkpoint(model)
        first, own = await _create(admin, model), None
        if mx.has_tenant(schema, model):
            await _create(_tenant(server, "m2"), model)
            own = await _create(_tenant(server, "m1"), model)
        out[model] = (since, first, own)
    return out


def _tenant(server, tenant: str) -> Api:
    return Api(server, server.token("replicator", tenant))


SILENCE = "no event"
GRACE = 1.0  # how long the feeds that must stay silent are watched, once the others answered


async def _first_frames(
    server, protocol: str, principal: mx.Principal, ops: list[mx.Op], silent: set[str]
) -> list[str]:
    """Subscribe to every op on one connection; what each sent first."""
    try:
        async with mx.Ws(server, protocol, mx.token_of(server, principal)) as ws:
            ids = [await ws.send(op.query, op.variables) for op in ops]
            found = []
            for op, op_id in zip(ops, ids, strict=True):
                if op.label in silent:
                    continue
                found.append((op.label, _frame_outcome(await ws.frame(op_id))))

            async def watched(op_id: str) -> str:
                try:
                    frame = await asyncio.wait_for(ws.frame(op_id), GRACE)
                except TimeoutError:
                    return SILENCE
                return _frame_outcome(frame)

            # The feeds that must stay silent are watched together, each for GRACE.
            quiet = [(op, op_id) for op, op_id in zip(ops, ids, strict=True) if op.label in silent]
            outcomes = await asyncio.gather(*(watched(op_id) for _, op_id in quiet))
            found += [(op.label, outcome) for (op, _), outcome in zip(quiet, outcomes, strict=True)]
            for op_id in ids:
                await ws.stop(op_id)
            by_label = dict(found)
            return [by_label[op.label] for op in ops]
    except mx.Rejected as rejected:
        refusal = str(rejected)
    assert mx.rejection_matches(refusal, protocol), refusal
    return [mx.REJECTED] * len(ops)


def _frame_outcome(frame: dict[str, Any]) -> str:
    kind, payload = frame["type"], frame.get("payload")
    if kind == "error":
        errors = payload if isinstance(payload, list) else [payload]
    elif kind in ("next", "data"):
        errors = payload.get("errors") or []
        if not errors:
            ((field, event),) = payload["data"].items()
            # changeFeed sends a Change; stream<Model> a batch of documents.
            shown = event["modelId"] if field == "changeFeed" else event["documents"][0]["id"]
            return f"event {shown}"
    else:
        return f"frame {frame}"
    for error in errors:
        assert_clean(error)
    return "+".join(mx.codes(errors))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_change_feed_matrix(server, sdl, protocol):
    """changeFeed per model since a checkpoint followed by admin writes: an allowed
    principal gets the first document it may see (an m1 token: the m1 one, skipping m2's),
    an m1 token on a model without tenants gets nothing, the others their error code."""
    schema, _ = mx.generate(sdl)
    seeds = await _seed_feeds(server, schema)
    _, ops = mx.generate(
        sdl,
        {
            "since": lambda b: seeds[b["model"]][0] if "model" in b else mx.OMIT,
            "where": lambda b: mx.OMIT,
        },
    )
    ops = [op for op in ops if op.root == "Subscription"]
    assert ops, "the schema has no subscription"
    started = time.monotonic()
    plans = []
    for principal in mx.PRINCIPALS:
        wants = []
        for op in ops:
            want = mx.expected(schema, principal, op, protocol)
            if want == mx.OK:
                ((model, _),) = op.models
                _, first, own = seeds[model]
                shown = first if principal.tenant is None else own
                want = SILENCE if shown is None else f"event {shown}"
            wants.append(want)
        silent = {op.label for op, w in zip(ops, wants, strict=True) if w == SILENCE}
        plans.append((principal, wants, _first_frames(server, protocol, principal, ops, silent)))
    results = await asyncio.gather(*(p[2] for p in plans))
    mismatches = [
        (principal.name, op.label, want, got)
        for (principal, wants, _), gots in zip(plans, results, strict=True)
        for op, want, got in zip(ops, wants, gots, strict=True)
        if got != want
    ]
    checked = len(ops) * len(plans)
    print(f"{protocol}: {checked} subscriptions in {time.monotonic() - started:.1f} s")
    assert not mismatches, f"{len(mismatches)} of {checked} feeds differ:\n" + table(
        mismatches, ("principal", "subscription", "expected", "got")
    )


async def test_a_subscription_over_http_is_refused_cleanly(server, generated):
    """HTTP does not serve subscriptions: every principal gets a clean GraphQL error (a
    request error, or its own auth error; HTTP 200 or 400), never data and never
    INTERNAL_SERVER_ERROR."""
    schema, ops = generated
    bad = []
    async with mx.http_client() as client:
        for principal in mx.PRINCIPALS:
            for op in (op for op in ops if op.root == "Subscription"):
                response = await client.post(
                    server.url,
                    json={"query": op.query, "variables": op.variables},
                    headers=auth_headers(mx.token_of(server, principal)),
                )
                body = response.json()
                errors = body.get("errors") or []
                for error in errors:
                    assert_clean(error)
                want = mx.expected(schema, principal, op, mx.HTTP)
                allowed = [[mx.BAD_USER_INPUT]]
                if want in (mx.UNAUTHENTICATED, mx.FORBIDDEN):
                    allowed.append([want])
                if (
                    response.status_code not in (200, 400)
                    or mx.codes(errors) not in allowed
                    or body.get("data")
                ):
                    bad.append(
                        (principal.name, op.label, str(response.status_code), str(body)[:120])
                    )
    assert not bad, table(bad, ("principal", "subscription", "status", "answer"))


# -- tenant isolation: another tenant's document looks like no document -------------------

QUERY_TRANSPORTS = (mx.HTTP, TRANSPORT_WS)  # graphql-ws (legacy) serves subscriptions only
M1 = mx.Principal("replicator@m1", "replicator", "m1")
NOTE = "query($id: ID!) { note(id: $id) { id title tenantId } }"
CHANGE = "model modelId type rev prev checkpoint data revs"
CONFLICT = "model modelId sourceRev targetRev sourceData targetData fields"
RESULT = "modelId status rev data error"


@pytest.fixture
async def world(server) -> dict[str, Any]:
    return await _world(server)


async def _world(server) -> dict[str, Any]:
    """Tenant m2's Note ``other`` and tenant m1's Note ``own`` (each written by a token of
    its tenant, so each is known by the id its tenant gave it), a never-used id ``absent``,
    ``stored``: the id a caller of no tenant (admin) sees for ``other`` (the same, unless
    tenants have id spaces of their own), a checkpoint ``since`` before them, the revs."""
    admin = Api(server, server.token("admin"))
    since = await admin.checkpoint()
    other, own = uid("m2-"), uid("m1-")
    revs = {}
    for tenant, doc_id, title in (("m2", other, "B"), ("m1", own, "A")):
        data = {"id": doc_id, "title": title, "tenantId": tenant}
        result = await _tenant(server, tenant).bulk(
            "Note", [{"modelId": doc_id, "type": "CREATE", "data": data}]
        )
        (applied,) = result["results"]
        assert applied["status"] == "APPLIED", applied
        revs[doc_id] = applied["rev"]
    changes, _ = await admin.all_changes(since=since, where={"tenantId": "m2"})
    keys = [c["modelId"] for c in changes if other in c["modelId"]]
    assert len(keys) == 1, changes
    return {
        "since": since,
        "other": other,
        "own": own,
        "absent": uid("t0-"),
        "stored": keys[0],
        "rev": revs,
    }


def _where(doc_id: str, widen: bool) -> Any:
    return {"or": [{"tenantId": "m2"}, {"id": doc_id}]} if widen else {"id": doc_id}


# name -> (query, variables for a document id and the world). Each is run by an m1 token on
# m2's document and on a never-used id; the two answers must be the same.
PROBES: dict[str, tuple[str, Callable[[str, dict[str, Any]], dict[str, Any]]]] = {
    "note": (NOTE, lambda i, w: {"id": i}),
    **{
        f"notes{'-widening' if widen else ''}": (
            "query($w: JSON) { notes(where: $w) { id title tenantId } }",
            lambda i, w, widen=widen: {"w": _where(i, widen)},
        )
        for widen in (False, True)
    },
    **{
        f"changes{'-widening' if widen else ''}": (
            'query($s: Checkpoint, $w: JSON) { changes(model: "Note", since: $s, where: $w)'
            f" {{ changes {{ {CHANGE} }} checkpoint hasMore }} }}",
            lambda i, w, widen=widen: {"s": w["since"], "w": _where(i, widen)},
        )
        for widen in (False, True)
    },
    **{
        f"diff-{kind.lower()}": (
            'mutation($s: Checkpoint, $c: [ChangeInput!]!) { diff(model: "Note", since: $s,'
            f" changes: $c) {{ deltas {{ {CHANGE} }} conflicts {{ {CONFLICT} }} }} }}",
            lambda i, w, kind=kind: {
                "s": w["since"],
                "c": [
                    {
                        "modelId": i,
                        "type": kind,
                        "rev": None if kind == "DELETE" else "2-remote",
                        "prev": w["rev"][w["other"]],
                    }
                ],
            },
        )
        for kind in ("UPDATE", "DELETE")
    },
    **{
        f"bulkUpdate-{kind.lower()}": (
            'mutation($u: [UpdateInput!]!) { bulkUpdate(model: "Note", updates: $u) {'
            f" results {{ {RESULT} }} conflicts {{ {CONFLICT} }} checkpoint }} }}",
            lambda i, w, kind=kind: {
                "u": [
                    {
                        "modelId": i,
                        "type": kind,
                        "prev": None if kind == "CREATE" else w["rev"][w["other"]],
                        "data": None if kind == "DELETE" else {"id": i, "title": "mine"},
                    }
                ]
            },
        )
        for kind in ("CREATE", "UPDATE", "DELETE")
    },
    "createNote": (
        "mutation($d: NoteInput!) { createNote(data: $d) { id title tenantId } }",
        lambda i, w: {"d": {"id": i, "title": "mine"}},
    ),
    "updateNote": (
        'mutation($id: ID!) { updateNote(id: $id, data: {title: "mine"}) { id title tenantId } }',
        lambda i, w: {"id": i},
    ),
    "deleteNote": ("mutation($id: ID!) { deleteNote(id: $id) }", lambda i, w: {"id": i}),
    **{
        f"replicate{'-widening' if widen else ''}": (
            'mutation($w: JSON) { replicate(source: "Note", target: "Note", where: $w) {'
            f" updates {{ {RESULT} }} conflicts {{ {CONFLICT} }}"
            " checkpoints { source target } } }",
            lambda i, w, widen=widen: {"w": _where(i, widen)},
        )
        for widen in (False, True)
    },
    **{
        f"resolveConflict-{using.lower()}": (
            "mutation($id: ID!, $u: Resolution!, $d: JSON) {"
            ' resolveConflict(model: "Note", modelId: $id, using: $u, data: $d) }',
            lambda i, w, using=using: {
                "id": i,
                "u": using,
                "d": {"id": i, "title": "mine"} if using == "MANUAL" else None,
            },
        )
        for using in ("SOURCE", "TARGET", "MANUAL")
    },
}
STATES = ("live", "deleted")  # m2's document as it is, and its tombstone once m2 deleted it


@pytest.mark.parametrize("transport", QUERY_TRANSPORTS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("probe", list(PROBES))
async def test_another_tenants_document_looks_absent(server, transport, state, probe):
    """m2's document (or its tombstone), named by m2's id for it or by the id a caller of
    no tenant sees, answers as an unused id (of the same shape) does."""
    world = await _world(server)
    m2 = _tenant(server, "m2")
    other, own, absent = world["other"], world["own"], world["absent"]
    if state == "deleted":
        deleted = await m2.data("mutation($id: ID!) { deleteNote(id: $id) }", {"id": other})
        assert deleted == {"deleteNote": True}
    names = {other: absent, world["stored"]: world["stored"].replace(other, absent)}
    query, variables = PROBES[probe]
    differ = []
    async with mx.client(server, transport, mx.token_of(server, M1)) as run:
        for name, unused in names.items():
            on_other = await run(query, variables(name, world))
            on_absent = await run(query, variables(unused, world))
            for error in on_other.errors + on_absent.errors:
                assert_clean(error)
            if on_other.comparable(name) != on_absent.comparable(unused):
                differ.append(f"m2's document as {name!r}: {on_other}\nunused: {on_absent}")
        # The control: the same probe on m1's own document does see it (last: it may
        # change it), so an equal answer above is not an answer that sees nothing.
        on_own = await run(query, variables(own, world))
    if not probe.startswith("resolveConflict"):  # no conflict is recorded on any of them
        assert on_own.comparable(own) != on_absent.comparable(unused), on_own
    # m2's document is untouched (or still deleted), whatever the answers were.
    after = (await m2.data(NOTE, {"id": other}))["note"]
    assert after == (None if state == "deleted" else {"id": other, "title": "B", "tenantId": "m2"})
    assert not differ, "\n".join(differ)


@pytest.mark.parametrize("transport", QUERY_TRANSPORTS)
async def test_no_write_lands_in_or_moves_to_another_tenant(server, world, transport):
    own, fresh = world["own"], uid("m2-")
    create = "mutation($d: NoteInput!) { createNote(data: $d) { id tenantId } }"
    patch = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id tenantId } }"
    bulk = (
        'mutation($u: [UpdateInput!]!) { bulkUpdate(model: "Note", updates: $u)'
        f" {{ results {{ {RESULT} }} }} }}"
    )
    into_m2 = {"id": fresh, "title": "x", "tenantId": "m2"}
    moved = {"id": own, "title": "A", "tenantId": "m2"}
    async with mx.client(server, transport, mx.token_of(server, M1)) as run:
        answers = {
            "createNote in m2": await run(create, {"d": into_m2}),
            "updateNote own into m2": await run(patch, {"id": own, "d": {"tenantId": "m2"}}),
            "bulkUpdate create in m2": await run(
                bulk, {"u": [{"modelId": fresh, "type": "CREATE", "data": into_m2}]}
            ),
            "bulkUpdate move own to m2": await run(
                bulk,
                {
                    "u": [
                        {"modelId": own, "type": "UPDATE", "prev": world["rev"][own], "data": moved}
                    ]
                },
            ),
            "resolveConflict MANUAL into m2": await run(
                'mutation($d: JSON) { resolveConflict(model: "Note", modelId: "x",'
                " using: MANUAL, data: $d) }",
                {"d": {"id": "x", "tenantId": "m2"}},
            ),
        }
    got = {
        name: mx.codes(reply.errors)
        or [r["status"] for r in (reply.data or {}).get("bulkUpdate", {}).get("results", [])]
        for name, reply in answers.items()
    }
    assert got == {
        "createNote in m2": [mx.FORBIDDEN],
        "updateNote own into m2": [mx.FORBIDDEN],
        "bulkUpdate create in m2": ["REJECTED"],
        "bulkUpdate move own to m2": ["REJECTED"],
        "resolveConflict MANUAL into m2": [mx.FORBIDDEN],
    }
    m1, m2 = _tenant(server, "m1"), _tenant(server, "m2")
    assert (await m2.data(NOTE, {"id": fresh}))["note"] is None
    assert (await m1.data(NOTE, {"id": fresh}))["note"] is None
    assert (await m2.data(NOTE, {"id": own}))["note"] is None
    assert (await m1.data(NOTE, {"id": own}))["note"] == {
        "id": own,
        "title": "A",
        "tenantId": "m1",
    }


@pytest.mark.parametrize("transport", QUERY_TRANSPORTS)
async def test_filters_narrow_never_widen(server, world, transport):
    """An m1 token's where can pick among m1's documents, never reach m2's (or untenanted
    ones), whatever it says about tenantId."""
    own, other = world["own"], world["other"]
    ids = {"id": {"inq": [own, other]}}
    wheres = {
        "m2 only": {"and": [ids, {"tenantId": "m2"}]},
        "m1 or m2": {"and": [ids, {"or": [{"tenantId": "m2"}, {"tenantId": "m1"}]}]},
        "not m1": {"and": [ids, {"tenantId": {"neq": "m1"}}]},
        "any tenant": {"and": [ids, {"tenantId": {"inq": ["m2", "m1"]}}]},
        "by id": {"id": {"inq": [own, other]}},
        "like": {"and": [ids, {"tenantId": {"like": "m%"}}]},
    }
    seen: dict[str, dict[str, list[str]]] = {}
    async with mx.client(server, transport, mx.token_of(server, M1)) as run:
        for name, where in wheres.items():
            notes = await run("query($w: JSON) { notes(where: $w) { id } }", {"w": where})
            changes = await run(
                'query($s: Checkpoint, $w: JSON) { changes(model: "Note", since: $s, where: $w)'
                " { changes { modelId } } }",
                {"s": world["since"], "w": where},
            )
            copied = await run(
                'mutation($w: JSON) { replicate(source: "Note", target: "Note", where: $w)'
                " { updates { modelId } } }",
                {"w": where},
            )
            for reply in (notes, changes, copied):
                assert not reply.errors, (name, reply.errors)
            seen[name] = {
                "notes": [n["id"] for n in notes.data["notes"]],
                "changes": [c["modelId"] for c in changes.data["changes"]["changes"]],
                "replicate": [u["modelId"] for u in copied.data["replicate"]["updates"]],
            }
    for name, found in seen.items():
        assert other not in str(found), (name, found)
        for path in ("notes", "changes"):
            want = [] if name in ("m2 only", "not m1") else [own]
            assert found[path] == want, (name, path, found)


@pytest.mark.parametrize("transport", QUERY_TRANSPORTS)
async def test_another_tenants_conflicts_are_invisible(server, world, transport):
    """A conflict on a User (no tenantId: outside every tenant) is not listed for an m1
    token, and resolving it answers as for a conflict that does not exist."""
    admin = Api(server, server.token("admin"))
    user_id, _ = await make_user_conflict(admin)
    absent = uid("u-")
    listed = 'query { conflicts(model: "User") { modelId } }'
    resolve = 'mutation($id: ID!) { resolveConflict(model: "User", modelId: $id, using: TARGET) }'
    async with mx.client(server, transport, mx.token_of(server, M1)) as run:
        seen = await run(listed, None)
        on_other = await run(resolve, {"id": user_id})
        on_absent = await run(resolve, {"id": absent})
    assert not seen.errors, seen
    assert seen.data == {"conflicts": []}, seen
    assert on_other.comparable(user_id) == on_absent.comparable(absent), (on_other, on_absent)
    assert user_id in [c["modelId"] for c in (await admin.data(listed))["conflicts"]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_change_feed_never_shows_another_tenant(server, world, protocol):
    """m1 feeds since before m2's document, with wheres that try to reach it: the replay and
    the live part skip every m2 (and untenanted) change; an m1 sentinel written last is the
    first thing the narrow ones see."""
    admin, m1, m2 = (
        Api(server, server.token("admin")),
        _tenant(server, "m1"),
        _tenant(server, "m2"),
    )
    own, other, sentinel = world["own"], world["other"], uid("m1-sentinel-")
    feed = (
        "subscription($s: Checkpoint, $w: JSON) {"
        ' changeFeed(model: "Note", since: $s, where: $w) { modelId data } }'
    )
    wheres = {
        "widening": {"or": [{"tenantId": "m2"}, {"tenantId": "m1"}]},
        "m2 or sentinel": {"or": [{"tenantId": "m2"}, {"id": sentinel}]},
        "m2's id or sentinel": {"or": [{"id": other}, {"id": sentinel}]},
        "unused id or sentinel": {"or": [{"id": world["absent"]}, {"id": sentinel}]},
    }
    async with mx.Ws(server, protocol, mx.token_of(server, M1)) as ws:
        ids = {
            name: await ws.send(feed, {"s": world["since"], "w": where})
            for name, where in wheres.items()
        }
        assert await _event(ws, ids["widening"]) == own
        later = uid("m1-")
        await m2.create_note(id=uid("m2-"))
        await admin.create_note(id=uid("tn-"))
        await m2.data(
            'mutation($id: ID!) { updateNote(id: $id, data: {title: "B2"}) { id } }', {"id": other}
        )
        await m1.create_note(id=later)
        await m1.create_note(id=sentinel)
        firsts = {name: await _event(ws, op_id) for name, op_id in ids.items()}
        for op_id in ids.values():
            await ws.stop(op_id)
    assert firsts == {
        "widening": later,
        "m2 or sentinel": sentinel,
        "m2's id or sentinel": sentinel,
        "unused id or sentinel": sentinel,
    }


async def _event(ws: mx.Ws, op_id: str) -> str:
    frame = await ws.frame(op_id)
    assert frame["type"] in ("next", "data"), frame
    assert not frame["payload"].get("errors"), frame
    change = frame["payload"]["data"]["changeFeed"]
    assert (change["data"] or {}).get("tenantId") == "m1", change
    return str(change["modelId"])
