"""Fuzzing a running server with third-party generators (CONTRACT §6).

- hypothesis-graphql: random valid (and, in its negative mode, invalid) query and mutation
  documents built from the schema the server itself reports by introspection;
- schemathesis (its GraphQL support): every Query and Mutation field, with its generators;
- the variables path: fixed, valid documents with hypothesis-generated JSON variables
  (bulkUpdate updates, diff changes, where filters, checkpoints, limits, documents).

Request bodies that are not GraphQL requests are fuzzed in test_http_bodies.py.

Each caller kind (a token per role, a tenant-bound replicator, no token, an unknown token)
gets its own run. Every answer must be a well-formed GraphQL response: no 5xx, a JSON object
with ``data`` and/or ``errors``, each error with a contract code and no internals in its
message; none may be INTERNAL_SERVER_ERROR (bad input is the caller's fault, never a crash).
At the end the server must still be alive with no traceback in its log, and its store must
pass the integrity check (integrity.py).

Bounded: ``GRAPHQL_REPL_FUZZ_EXAMPLES`` examples per caller and strategy (default 120);
derandomized (the same cases every run) unless ``GRAPHQL_REPL_FUZZ_RANDOM=1``. The counts
are printed (``pytest -s``) and written to ``test-artifacts/fuzz-counts.json``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import random
import string
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import graphql
import httpx
import hypothesis_graphql
import pytest
import schemathesis
from artifacts import write_artifact  # tests/artifacts.py
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from servers import Server, ServerFactories

from .callers import CALLERS, TENANT, auth, caller_token
from .checks import BadAnswer, check_http, tracebacks
from .integrity import check_store
from .strategies import (
    EXAMPLES,
    HTTP_TIMEOUT,
    MODELS,
    RANDOM,
    filters,
    fuzz_settings,
    json_values,
    scalars,
)

STORE = os.environ.get("GRAPHQL_REPL_FUZZ_STORE", "sqlite")
MAX_BATCH = 6
SEED_IDS = ("seed0", "seed2", "seed4", "t1:seed1", "t1:seed3", "t1:seed5")

# -- the server under fuzz ------------------------------------------------------------------


class Fuzzed:
    """The server under fuzz, one HTTP client per caller, and what was tried and seen."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: dict[str, httpx.Client] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.codes: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.written: dict[str, set[str]] = collections.defaultdict(set)
        self.checkpoints: list[str] = []
        self.revs: list[str] = []
        self.lock = threading.Lock()

    def client(self, caller: str) -> httpx.Client:
        if caller not in self.clients:
            self.clients[caller] = httpx.Client(
                headers=auth(caller_token(self.server, caller)), timeout=HTTP_TIMEOUT
            )
        return self.clients[caller]

    def send(
        self, caller: str, strategy: str, payload: Any, client: httpx.Client | None = None
    ) -> dict[str, Any]:
        """POST a GraphQL request (with ``client``: this thread's) and check the answer;
        returns it."""
        with self.lock:
            self.counts[f"{strategy}/{caller}"] += 1
        client = client or self.client(caller)
        try:
            response = client.post(self.server.url, json=payload)
        except httpx.HTTPError as exc:
            raise BadAnswer(f"no answer ({exc!r}) to {payload!r:.1000}") from None
        context = f"\nrequest ({caller}): {payload!r:.1500}"
        body = check_http(
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
            context,
        )
        self.note(strategy, body, context)
        return body

    def note(self, strategy: str, body: dict[str, Any], context: str) -> None:
        errors = body.get("errors") or []
        for error in errors:
            code = error["extensions"]["code"]
            with self.lock:
                self.codes[strategy][code] += 1
            if code == "INTERNAL_SERVER_ERROR":
                raise BadAnswer(f"INTERNAL_SERVER_ERROR: {error}{context}")
        if not errors:
            with self.lock:
                self.codes[strategy]["ok"] += 1
            if body.get("data") is None:
                raise BadAnswer(f"neither data nor errors: {body}{context}")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module")
def fuzzed(module_server_factories: ServerFactories) -> Iterator[Fuzzed]:
    """The fuzzed server: on SQLite; on MongoDB with ``GRAPHQL_REPL_FUZZ_STORE=mongodb``."""
    # A small batch limit, so generated updates and changes lists cross it now and then.
    server = module_server_factories(STORE).start(env={"GRAPHQL_REPL_MAX_BATCH": str(MAX_BATCH)})
    made = Fuzzed(server)
    # Notes to find: three of no tenant, three of tenant t1 (whose ids are "t1:<id>").
    seed = [
        {"modelId": i, "type": "CREATE", "data": {"id": i, "title": i}}
        | ({"data": {"id": i, "title": i, "tenantId": "t1"}} if i.startswith("t1:") else {})
        for i in SEED_IDS
    ]
    body = made.send(
        "admin", "seed", {"query": BULK_UPDATE, "variables": {"model": "Note", "updates": seed}}
    )
    assert not body.get("errors"), body
    made.checkpoints.append(body["data"]["bulkUpdate"]["checkpoint"])
    results = body["data"]["bulkUpdate"]["results"]
    assert [r["status"] for r in results] == ["APPLIED"] * len(seed), results
    made.revs += [r["rev"] for r in results]
    made.written["Note"].update(SEED_IDS)
    started = time.monotonic()
    yield made
    made.close()
    counts = dict(sorted(made.counts.items()))
    codes = {k: dict(sorted(v.items())) for k, v in sorted(made.codes.items())}
    path = write_artifact(
        "fuzz-counts.json",
        {
            "cases": counts,
            "codes": codes,
            "examples_setting": EXAMPLES,
            "random": RANDOM,
            "store": STORE,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    print(f"\nfuzz cases tried: {sum(counts.values())} {json.dumps(counts)}")
    print(f"fuzz answers by code: {json.dumps(codes)}\n(written to {path})")


@pytest.fixture(scope="module")
def schema(fuzzed: Fuzzed) -> graphql.GraphQLSchema:
    """The schema as the running server reports it by introspection."""
    body = fuzzed.send("admin", "introspection", {"query": graphql.get_introspection_query()})
    return graphql.build_client_schema(body["data"])


# -- strategies -----------------------------------------------------------------------------

ids = st.one_of(
    st.sampled_from([*SEED_IDS, "seed1", "t1:f0"] + [f"f{i}" for i in range(5)]),
    st.text(max_size=20),
)
models = st.one_of(st.sampled_from(MODELS), st.text(max_size=12))
limits = st.one_of(
    st.integers(min_value=-3, max_value=6000),
    st.sampled_from([0, 1, 5000, 5001, 2**31 - 1, -(2**31), 2**31, 2**63]),
)


def documents() -> st.SearchStrategy[Any]:
    """Note/User-like documents with well- and ill-typed fields, and any JSON."""
    typed = st.fixed_dictionaries(
        {},
        optional={
            "id": ids,
            "title": st.one_of(st.text(max_size=20), scalars),
            "body": st.one_of(st.text(max_size=200), json_values),
            "tags": st.one_of(st.lists(st.text(max_size=5), max_size=4), json_values),
            "views": st.one_of(st.integers(min_value=-(2**65), max_value=2**65), scalars),
            "tenantId": st.one_of(st.sampled_from(["t1", "t2"]), scalars),
            "name": st.text(max_size=10),
            "email": st.text(max_size=10),
            "amount": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()),
            "extra": json_values,
        },
    )
    return st.one_of(typed, json_values)


def or_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``; now and then any JSON value in its place (a wrong type)."""
    return st.one_of(strategy, strategy, strategy, json_values)


def variables(fuzz: Fuzzed, store_id: str) -> dict[str, st.SearchStrategy[Any]]:
    checkpoints = st.one_of(
        st.none(),
        st.sampled_from(fuzz.checkpoints),
        st.text(max_size=40),
        st.integers(min_value=-5, max_value=2**70).map(lambda n: f"{store_id}-{n}"),
        st.text(alphabet=string.digits + "-", max_size=25).map(lambda t: f"{store_id}-{t}"),
    )
    revs = st.one_of(st.none(), st.sampled_from(fuzz.revs), st.text(max_size=40))
    updates = st.lists(
        st.fixed_dictionaries(
            {"modelId": ids, "type": st.sampled_from(["CREATE", "UPDATE", "DELETE"])},
            optional={
                "data": documents(),
                "rev": revs,
                "prev": revs,
                "clock": json_values,
                "revs": st.lists(revs.filter(lambda r: r is not None), max_size=3),
            },
        ).map(
            lambda u: (
                u | {"data": {"id": u["modelId"], **u["data"]}}
                if isinstance(u.get("data"), dict) and "id" not in u["data"] and len(u) % 2
                else u
            )
        ),
        max_size=8,
    )
    changes = st.lists(
        st.fixed_dictionaries(
            {"modelId": ids, "type": st.sampled_from(["CREATE", "UPDATE", "DELETE"])},
            optional={"rev": revs, "prev": revs, "revs": st.lists(st.text(max_size=8))},
        ),
        max_size=8,
    )
    return {
        "model": models,
        "since": checkpoints,
        "until": checkpoints,
        "where": st.one_of(st.none(), filters, json_values),
        "limit": limits,
        "offset": limits,
        "updates": updates,
        "changes": changes,
        "pair": st.one_of(
            st.none(),
            st.fixed_dictionaries({}, optional={"source": checkpoints, "target": checkpoints}),
        ),
        "using": st.one_of(st.sampled_from(["SOURCE", "TARGET", "MANUAL"]), st.text(max_size=6)),
        "data": documents(),
        "noteData": st.fixed_dictionaries(
            {},
            optional={
                "id": ids,
                "title": st.text(max_size=20),
                "tags": st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=4),
                "views": st.integers(min_value=-(2**31), max_value=2**31 - 1),
                "tenantId": st.sampled_from(["t1", "t2"]),
            },
        ),
        "id": ids,
    }


CHANGE = "model modelId type rev prev checkpoint data clock revs"
CONFLICT = "model modelId sourceRev targetRev sourceData targetData fields"
BULK_UPDATE = f"""mutation($model: String!, $updates: [UpdateInput!]!) {{
  bulkUpdate(model: $model, updates: $updates) {{
    results {{ modelId status rev data error }} conflicts {{ {CONFLICT} }} checkpoint }} }}"""
# name -> (document, its variables: variable name -> strategy name)
OPERATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "changes": (
        f"""query($model: String!, $since: Checkpoint, $where: JSON, $limit: Int,
                  $until: Checkpoint) {{
          changes(model: $model, since: $since, where: $where, limit: $limit, until: $until) {{
            changes {{ {CHANGE} }} checkpoint hasMore }} }}""",
        {"model": "model", "since": "since", "where": "where", "limit": "limit", "until": "until"},
    ),
    "checkpoint": ("query($model: String!) { checkpoint(model: $model) }", {"model": "model"}),
    "conflicts": (
        f"query($model: String!) {{ conflicts(model: $model) {{ {CONFLICT} }} }}",
        {"model": "model"},
    ),
    "bulkUpdate": (BULK_UPDATE, {"model": "model", "updates": "updates"}),
    "diff": (
        f"""mutation($model: String!, $since: Checkpoint, $changes: [ChangeInput!]!) {{
          diff(model: $model, since: $since, changes: $changes) {{
            deltas {{ {CHANGE} }} conflicts {{ {CONFLICT} }} }} }}""",
        {"model": "model", "since": "since", "changes": "changes"},
    ),
    "replicate": (
        f"""mutation($s: String!, $t: String!, $since: CheckpointPairInput, $where: JSON) {{
          replicate(source: $s, target: $t, since: $since, where: $where) {{
            conflicts {{ {CONFLICT} }} checkpoints {{ source target }}
            updates {{ modelId status rev }} }} }}""",
        {"s": "model", "t": "model", "since": "pair", "where": "where"},
    ),
    "resolveConflict": (
        """mutation($model: String!, $id: ID!, $using: Resolution!, $data: JSON) {
          resolveConflict(model: $model, modelId: $id, using: $using, data: $data) }""",
        {"model": "model", "id": "id", "using": "using", "data": "data"},
    ),
    "notes": (
        """query($where: JSON, $limit: Int!, $offset: Int!) {
          notes(where: $where, limit: $limit, offset: $offset) { id title tags views tenantId }
          financialRecords(where: $where, limit: $limit, offset: $offset) { id amount } }""",
        {"where": "where", "limit": "limit", "offset": "offset"},
    ),
    "createNote": (
        "mutation($data: NoteInput!) { createNote(data: $data) { id title tags views } }",
        {"data": "noteData"},
    ),
    "updateNote": (
        """mutation($id: ID!, $data: NotePatch!) {
          updateNote(id: $id, data: $data) { id title tags views } }""",
        {"id": "id", "data": "noteData"},
    ),
    "deleteNote": ("mutation($id: ID!) { deleteNote(id: $id) }", {"id": "id"}),
}


def json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal, for the JSON scalar."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([json_node(v) for v in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=json_node(v))
            for k, v in value.items()
            if k.isidentifier() and k.isascii()
        ]
    )


def custom_scalars(fuzz: Fuzzed) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    checkpoint = st.one_of(st.sampled_from(fuzz.checkpoints), st.text(max_size=30))
    return {
        "JSON": st.one_of(filters, documents(), json_values).map(json_node),
        "Checkpoint": checkpoint.map(nodes.String),
    }


def _remember(
    fuzz: Fuzzed, caller: str, name: str, values: dict[str, Any], body: dict[str, Any]
) -> None:
    """Ids acknowledged as written (the integrity check must find them), and checkpoints
    and revs to reuse. A tenant-bound caller's document ``x`` is stored as ``t1:x``."""
    data = body.get("data") or {}
    if body.get("errors"):
        return

    def stored(model_id: str) -> str:
        return f"{TENANT}:{model_id}" if caller == "tenant" else model_id

    if name == "bulkUpdate" and values.get("model") in MODELS:
        result = data["bulkUpdate"]
        fuzz.checkpoints.append(result["checkpoint"])
        for r in result["results"]:
            if r["status"] in ("APPLIED", "MERGED"):
                fuzz.written[values["model"]].add(stored(r["modelId"]))
            if r.get("rev"):
                fuzz.revs.append(r["rev"])
    elif name == "createNote":
        fuzz.written["Note"].add(stored(data["createNote"]["id"]))
    elif name == "changes":
        fuzz.checkpoints.append(data["changes"]["checkpoint"])


# -- the fuzz tests -------------------------------------------------------------------------


MODEL_SUFFIXES = tuple(MODELS)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_hypothesis_graphql_documents(
    fuzzed: Fuzzed, schema: graphql.GraphQLSchema, caller: str, mode: str
) -> None:
    """Random query and mutation documents from the introspected schema."""
    scalars_ = custom_scalars(fuzzed)
    hg_mode = (
        hypothesis_graphql.Mode.POSITIVE
        if mode == "positive"
        else (hypothesis_graphql.Mode.NEGATIVE)
    )
    # Besides the whole schema, the typed fields alone: they take no model name, so their
    # documents get past "unknown model" and into the resolvers more often.
    query_type, mutation_type = schema.query_type, schema.mutation_type
    assert query_type is not None
    assert mutation_type is not None
    typed_queries = [
        f for f in query_type.fields if f not in ("checkpoint", "changes", "conflicts")
    ]
    typed_mutations = [f for f in mutation_type.fields if f.endswith(MODEL_SUFFIXES)]
    documents_ = st.one_of(
        hypothesis_graphql.queries(schema, custom_scalars=scalars_, mode=hg_mode),
        hypothesis_graphql.mutations(schema, custom_scalars=scalars_, mode=hg_mode),
        hypothesis_graphql.queries(
            schema, fields=typed_queries, custom_scalars=scalars_, mode=hg_mode
        ),
        hypothesis_graphql.mutations(
            schema, fields=typed_mutations, custom_scalars=scalars_, mode=hg_mode
        ),
    )
    examples = EXAMPLES if mode == "positive" else max(10, EXAMPLES // 3)

    @fuzz_settings(examples)
    @given(document=documents_)
    def run(document: str) -> None:
        fuzzed.send(caller, f"hypothesis-graphql-{mode}", {"query": document})

    run()


@pytest.mark.parametrize("caller", CALLERS)
def test_fuzz_variables(fuzzed: Fuzzed, caller: str) -> None:
    """Valid documents, hypothesis-generated variables (well- and ill-typed)."""
    store_id = fuzzed.checkpoints[0].rpartition("-")[0]
    strategies = variables(fuzzed, store_id)

    @fuzz_settings(EXAMPLES)
    @given(name=st.sampled_from(sorted(OPERATIONS)), data=st.data())
    def run(name: str, data: st.DataObject) -> None:
        document, wanted = OPERATIONS[name]
        values = {
            var: data.draw(or_junk(strategies[kind]), label=var) for var, kind in wanted.items()
        }
        body = fuzzed.send(caller, "variables", {"query": document, "variables": values})
        _remember(fuzzed, caller, name, values, body)

    run()


@pytest.mark.parametrize("caller", ["admin", "tenant", "none"])
def test_schemathesis(fuzzed: Fuzzed, caller: str) -> None:
    """schemathesis's GraphQL generators on every Query and Mutation field."""
    scalars_ = custom_scalars(fuzzed)
    for name, strategy in scalars_.items():
        schemathesis.graphql.scalar(name, strategy)
    # Introspection needs no token; each case goes out with the caller's.
    loaded = schemathesis.graphql.from_url(fuzzed.server.url)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) >= 20, operations
    per_operation = max(3, EXAMPLES // 12)
    tried: collections.Counter[str] = collections.Counter()

    def check(label: str) -> Callable[[Any], None]:
        @fuzz_settings(per_operation)
        @given(case=operations_by_label[label].as_strategy())
        def run(case: Any) -> None:
            tried[label] += 1
            payload = case.body if isinstance(case.body, dict) else {"query": case.body}
            fuzzed.send(caller, "schemathesis", payload)

        return run

    operations_by_label = {op.label: op for op in operations}
    for label in sorted(operations_by_label):
        check(label)()
    assert len(tried) == len(operations_by_label)


WRITERS = 6
WRITES_PER_WRITER = max(60, EXAMPLES // 2)


def test_concurrent_writers(fuzzed: Fuzzed) -> None:
    """Six threads writing the same few documents at once, with every kind of write and
    stale or current ``prev`` revs: every answer well-formed, and (in the test after next)
    the store intact with every acknowledged write in it."""
    pool = [f"c{i}" for i in range(12)]

    def writer(number: int) -> None:
        rng = random.Random(number)
        caller = ("admin", "replicator", "writer", "tenant")[number % 4]
        revs: dict[str, str | None] = {}
        with httpx.Client(
            headers=auth(caller_token(fuzzed.server, caller)), timeout=HTTP_TIMEOUT
        ) as client:
            for _ in range(WRITES_PER_WRITER):
                model_id = rng.choice(pool)
                kind = rng.choice(["bulk", "bulk", "create", "update", "delete", "resolve"])
                if kind == "bulk":
                    updates = []
                    for other in rng.sample(pool, rng.randint(1, MAX_BATCH)):
                        change = rng.choice(["CREATE", "UPDATE", "DELETE"])
                        update: dict[str, Any] = {
                            "modelId": other,
                            "type": change,
                            "prev": revs.get(other),
                        }
                        if change != "DELETE":
                            update["data"] = {
                                "id": other,
                                "title": f"w{number}",
                                "views": rng.randint(0, 9),
                                "tags": [f"t{rng.randint(0, 3)}"],
                            }
                        updates.append(update)
                    values: dict[str, Any] = {"model": "Note", "updates": updates}
                    body = fuzzed.send(
                        caller, "concurrent", {"query": BULK_UPDATE, "variables": values}, client
                    )
                    name = "bulkUpdate"
                    for result in (body.get("data") or {}).get("bulkUpdate", {}).get("results", []):
                        revs[result["modelId"]] = result["rev"]
                else:
                    name, variables = {
                        "create": ("createNote", {"data": {"id": model_id, "views": 1}}),
                        "update": ("updateNote", {"id": model_id, "data": {"title": "u"}}),
                        "delete": ("deleteNote", {"id": model_id}),
                        "resolve": (
                            "resolveConflict",
                            {
                                "model": "Note",
                                "id": model_id,
                                "using": rng.choice(["SOURCE", "TARGET"]),
                            },
                        ),
                    }[kind]
                    values = variables
                    body = fuzzed.send(
                        caller,
                        "concurrent",
                        {"query": OPERATIONS[name][0], "variables": values},
                        client,
                    )
                with fuzzed.lock:
                    _remember(fuzzed, caller, name, values, body)

    with concurrent.futures.ThreadPoolExecutor(WRITERS) as executor:
        for done in [executor.submit(writer, n) for n in range(WRITERS)]:
            done.result()


def test_server_survived_fuzzing(fuzzed: Fuzzed) -> None:
    server = fuzzed.server
    assert server.alive(), server.log_text()[-4000:]
    health = httpx.get(server.health_url, timeout=HTTP_TIMEOUT)
    assert health.status_code == 200
    found = tracebacks(server.log_text())
    assert not found, f"{len(found)} tracebacks in the server log; the first:\n{found[0]}"


def test_store_integrity_after_fuzzing(fuzzed: Fuzzed) -> None:
    """Stop the fuzzed server; its store must be intact and hold every acknowledged write."""
    server = fuzzed.server
    assert server.stop() == 0, server.log_text()[-4000:]
    report = check_store(server.store, fuzzed.written)
    print(f"\n{report}; acknowledged writes: { {k: len(v) for k, v in fuzzed.written.items()} }")
    assert report.ok, str(report)
