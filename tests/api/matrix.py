"""The permission matrix, generated from the published SDL (CONTRACT §2, §4, §5).

Every root field of the schema becomes one or more operations (one per model it can be
about), built from its arguments and output type; the outcome a principal must get is
worked out from the field's ``@auth(requires: ...)``, the roles and the models' narrowing.
Nothing here lists the fields: a new field is picked up from the SDL, and a field or an
argument this module cannot handle fails the test with its name instead of being skipped.

Also here: the clients the matrix runs on (HTTP, and raw WebSocket on both subprotocols, so
that every frame the server sends is seen as it came) and the normalisation used to compare
two answers that must be the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import websockets
from graphql import (
    EnumValueNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    build_schema,
    get_named_type,
    is_leaf_type,
)
from websockets.exceptions import ConnectionClosed

from .helpers import EVENT_TIMEOUT, HTTP_TIMEOUT, LEGACY_WS, TRANSPORT_WS, auth_headers

if TYPE_CHECKING:
    from servers import Server  # tests/servers.py

ROOTS = ("Query", "Mutation", "Subscription")
HTTP = "http"

# CONTRACT §5: the roles and what each may do.
ROLE_PERMISSIONS = {
    "reader": frozenset({"READ"}),
    "writer": frozenset({"READ", "WRITE"}),
    "replicator": frozenset({"READ", "REPLICATE", "WRITE"}),
    "admin": frozenset({"READ", "REPLICATE", "WRITE"}),
}
# CONTRACT §4: who may use each demo model (admin may use every model). Every model the
# schema serves must be listed here: a new model cannot slip through with a default.
MODEL_ROLES = {
    "Note": frozenset(ROLE_PERMISSIONS),
    "User": frozenset(ROLE_PERMISSIONS),
    "RemoteUser": frozenset(ROLE_PERMISSIONS),
    "FinancialRecord": frozenset({"admin"}),
}
TENANT_FIELD = "tenantId"
# CONTRACT §2: ``replicate(source, target)`` needs REPLICATE on ``source`` (its @auth) and
# WRITE on ``target``. Every other argument naming a model needs the field's @auth.
MODEL_ARGUMENT_PERMISSION = {("replicate", "target"): "WRITE"}
MODEL_ARGUMENTS = ("model", "source", "target")

# Ids no document ever has: the matrix runs every operation on absent documents.
ABSENT = "matrix-absent-id"

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
# Outcomes of an allowed operation, besides an error code.
OK = "ok"  # no error, a non-null answer
NULL = "null"  # no error, the answer is null (a typed get of an absent document)
FALSE = "false"  # no error, the answer is false (a typed delete of an absent document)
REJECTED = "rejected at connection_init"  # the WebSocket connection was refused
# graphql-ws (legacy): Strawberry serves only subscriptions on it; any query or mutation is
# refused before execution, for every principal, with "queries/mutations are not allowed".
LEGACY_REFUSED = "refused: not a subscription"


class MatrixError(AssertionError):
    """The SDL has something the generator cannot handle: add it here, do not skip it."""


# -- the SDL ---------------------------------------------------------------------------------


def exported_sdl(command: str) -> str:
    done = subprocess.run(
        [command, "export-schema"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def auth_of(root: GraphQLObjectType, name: str) -> list[str]:
    """The ``requires`` of every ``@auth`` on the root field ``name``, as written."""
    node = root.fields[name].ast_node
    found = []
    for directive in (node.directives or ()) if node is not None else ():
        if directive.name.value != "auth":
            continue
        values = [a.value for a in directive.arguments if a.name.value == "requires"]
        found += [v.value if isinstance(v, EnumValueNode) else repr(v) for v in values]
    return found


def missing_auth(schema: GraphQLSchema) -> list[str]:
    """Root fields without exactly one ``@auth(requires: READ | REPLICATE | WRITE)``."""
    bad = []
    for root in root_types(schema):
        for name in root.fields:
            requires = auth_of(root, name)
            if len(requires) != 1 or requires[0] not in {"READ", "REPLICATE", "WRITE"}:
                bad.append(f"{root.name}.{name} (@auth: {requires or 'none'})")
    return bad


def root_types(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    return [t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t]


def models_of(schema: GraphQLSchema) -> list[str]:
    """The models the schema serves: each has a typed get ``note(id): Note``."""
    query = schema.query_type
    assert query is not None
    return [
        name
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType)
        and not name.startswith("__")
        and name[0].lower() + name[1:] in query.fields
        and get_named_type(query.fields[name[0].lower() + name[1:]].type) is t
    ]


# -- operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One operation of the matrix: a root field applied to one model (or model pair)."""

    root: str  # Query, Mutation, Subscription
    field: str
    models: tuple[tuple[str, str], ...]  # (model, permission needed on it)
    kind: str  # what an allowed caller gets: OK, NULL, FALSE or an error code
    query: str
    variables: dict[str, Any]
    creates_in: str | None = None  # the model a successful run creates a document in

    @property
    def label(self) -> str:
        names = "->".join(m for m, _ in self.models)
        return f"{self.field}({names})"


@dataclass
class Generator:
    """Builds the operations of every root field from its signature."""

    schema: GraphQLSchema
    models: list[str]
    # Argument name -> its value for a binding of model arguments (or OMIT), first.
    overrides: dict[str, Callable[[dict[str, str]], Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def operations(self) -> list[Op]:
        unknown = sorted(set(self.models) - set(MODEL_ROLES))
        if unknown:
            self.problems.append(f"models without an entry in MODEL_ROLES: {unknown}")
        ops: list[Op] = []
        for root in root_types(self.schema):
            for name, definition in root.fields.items():
                requires = auth_of(root, name)
                if len(requires) != 1:
                    self.problems.append(f"{root.name}.{name}: no single @auth")
                    continue
                ops += self._field_ops(root.name, name, definition, requires[0])
        if self.problems:
            raise MatrixError("the matrix cannot cover:\n  " + "\n  ".join(self.problems))
        return ops

    def _field_ops(self, root: str, name: str, definition: GraphQLField, requires: str) -> list[Op]:
        model_args = [a for a in definition.args if a in MODEL_ARGUMENTS]
        if model_args:
            # A core field: every model (or pair of models) it can take.
            choices = itertools.product(self.models, repeat=len(model_args))
            bindings = [dict(zip(model_args, chosen, strict=True)) for chosen in choices]
            typed_model = None
        else:
            typed_model = self._typed_model(name, definition)
            if typed_model is None:
                self.problems.append(f"{root}.{name}: cannot tell which model it is about")
                return []
            bindings = [{}]
        out = []
        for binding in bindings:
            needs = tuple(
                (model, MODEL_ARGUMENT_PERMISSION.get((name, arg), requires))
                for arg, model in binding.items()
            ) or ((typed_model, requires),)
            built = self._build(root, name, definition, binding, typed_model)
            if built is None:
                continue
            query, variables = built
            kind, creates = self._kind(root, name, definition, typed_model)
            out.append(Op(root, name, needs, kind, query, variables, creates))
        return out

    def _typed_model(self, name: str, definition: GraphQLField) -> str | None:
        returned = get_named_type(definition.type)
        if returned.name in self.models:
            return returned.name
        match = re.fullmatch(r"(create|update|delete|pull|push|stream)(\w+)", name)
        if match and match.group(2) in self.models:
            return match.group(2)
        return None

    def _kind(
        self, root: str, name: str, definition: GraphQLField, typed_model: str | None
    ) -> tuple[str, str | None]:
        """What an allowed caller gets, run on absent documents."""
        args = set(definition.args)
        if typed_model is None:
            # Core fields: only resolveConflict names a document (a conflict that is not
            # recorded: NOT_FOUND); the others answer with a (possibly empty) result.
            return (NOT_FOUND, None) if "modelId" in args else (OK, None)
        returns_model = get_named_type(definition.type).name == typed_model
        if root == "Subscription" or name.startswith("push"):
            return OK, None  # a typed stream; a push (of no rows: it names no document)
        if root == "Query":
            if isinstance(definition.type, GraphQLNonNull | GraphQLList):
                return OK, None  # the typed list
            return NULL, None  # the typed get of an absent id
        if "id" in args and returns_model:
            return NOT_FOUND, None  # typed update of an absent id
        if "id" in args and str(definition.type) == "Boolean!":
            return FALSE, None  # typed delete: nothing the caller may delete
        if "data" in args and returns_model:
            return OK, typed_model  # typed create
        self.problems.append(f"{root}.{name}: not a typed list, get, create, update or delete")
        return OK, None

    # -- arguments and selections --------------------------------------------------------

    def _build(
        self,
        root: str,
        name: str,
        definition: GraphQLField,
        binding: dict[str, str],
        typed_model: str | None,
    ) -> tuple[str, dict[str, Any]] | None:
        declared, passed, variables = [], [], {}
        for arg_name, arg in definition.args.items():
            where = f"{root}.{name}({arg_name}: {arg.type})"
            value = self._argument(where, name, arg_name, arg.type, binding, typed_model)
            if value is OMIT:
                continue
            if value is CANNOT:
                return None
            declared.append(f"${arg_name}: {arg.type}")
            passed.append(f"{arg_name}: ${arg_name}")
            variables[arg_name] = value
        selection = self._selection(definition.type, f"{root}.{name}")
        head = root.lower() + (f"({', '.join(declared)})" if declared else "")
        call = name + (f"({', '.join(passed)})" if passed else "")
        return f"{head} {{ {call}{selection} }}", variables

    def _argument(
        self,
        where: str,
        field_name: str,
        name: str,
        kind: GraphQLInputType,
        binding: dict[str, str],
        typed_model: str | None,
    ) -> Any:
        named = get_named_type(kind)
        if name in self.overrides:
            # A typed field's model is given as if it were its ``model`` argument.
            given = binding if typed_model is None else {"model": typed_model, **binding}
            return self.overrides[name](given)
        if name in binding:
            return binding[name]
        if name in ("since", "until", "checkpoint", "headers"):
            return OMIT  # from the start of the log, to its end; no headers of its own
        if name == "where":
            return {"id": ABSENT}  # run on nothing: the matrix is about permissions
        if name == "limit":
            return 10
        if name == "offset":
            return 0
        if name in ("changes", "updates") or name.endswith("PushRow"):
            return []
        if name in ("id", "modelId"):
            return ABSENT
        if name == "using" and isinstance(named, GraphQLEnumType):
            return "TARGET"
        if name == "data" and isinstance(named, GraphQLInputObjectType):
            return self._input(where, named)
        if name == "data" and not isinstance(kind, GraphQLNonNull):
            return OMIT  # resolveConflict's data: only for MANUAL
        self.problems.append(f"{where}: no sample value for this argument")
        return CANNOT

    def _input(self, where: str, kind: GraphQLInputObjectType) -> dict[str, Any]:
        """A document to create or a patch: a sample value for every plain field (not the
        id, the server makes one; not the tenant, the token's applies)."""
        out: dict[str, Any] = {}
        for name, f in kind.fields.items():
            if name in ("id", TENANT_FIELD) and not isinstance(f.type, GraphQLNonNull):
                continue
            sample = _SAMPLES.get(str(f.type).rstrip("!"))
            if sample is None:
                if isinstance(f.type, GraphQLNonNull):
                    self.problems.append(f"{where}: no sample value for {kind.name}.{name}")
                continue
            out[name] = sample
        return out

    def _selection(self, kind: GraphQLOutputType, where: str, depth: int = 0) -> str:
        named = get_named_type(kind)
        if is_leaf_type(named):
            return ""
        if not isinstance(named, GraphQLObjectType) or depth > 3:
            self.problems.append(f"{where}: cannot select from {named}")
            return ""
        parts = []
        for name, f in named.fields.items():
            if f.args and any(isinstance(a.type, GraphQLNonNull) for a in f.args.values()):
                continue
            inner = get_named_type(f.type)
            if is_leaf_type(inner):
                parts.append(name)
            else:
                parts.append(name + self._selection(f.type, f"{where}.{name}", depth + 1))
        return " { " + " ".join(parts) + " }"


OMIT = object()
CANNOT = object()
_SAMPLES: dict[str, Any] = {
    "String": "matrix",
    "Int": 1,
    "Float": 1.5,
    "Boolean": True,
    "[String]": ["matrix"],
    "[String!]": ["matrix"],
    "JSON": {"matrix": True},
}


def generate(
    sdl: str, overrides: dict[str, Callable[[dict[str, str]], Any]] | None = None
) -> tuple[GraphQLSchema, list[Op]]:
    schema = build_schema(sdl)
    return schema, Generator(schema, models_of(schema), overrides or {}).operations()


def has_tenant(schema: GraphQLSchema, model: str) -> bool:
    named: GraphQLNamedType | None = schema.get_type(model)
    return isinstance(named, GraphQLObjectType) and TENANT_FIELD in named.fields


# -- principals and the expected outcome -----------------------------------------------------


@dataclass(frozen=True)
class Principal:
    name: str
    role: str | None = None  # None: no token; "bad": a token the server never issued
    tenant: str | None = None


BAD_TOKEN = "grepl_000000000000_not-a-token-of-this-server"
PRINCIPALS = (
    Principal("no token"),
    Principal("unknown token", "bad"),
    Principal("reader", "reader"),
    Principal("writer", "writer"),
    Principal("replicator", "replicator"),
    Principal("admin", "admin"),
    # Tenants m1 and m2 are this suite's own: other tests' checks of tenants t1 and t2
    # (test_tenant_scope.py) never see the documents written here.
    Principal("reader@m1", "reader", "m1"),
    Principal("writer@m1", "writer", "m1"),
    Principal("replicator@m1", "replicator", "m1"),
    Principal("admin@m1", "admin", "m1"),
)


def token_of(server: Server, principal: Principal) -> str | None:
    if principal.role is None:
        return None
    if principal.role == "bad":
        return BAD_TOKEN
    return server.token(principal.role, principal.tenant)


def may(principal: Principal, model: str, permission: str) -> bool:
    assert principal.role in ROLE_PERMISSIONS
    if permission not in ROLE_PERMISSIONS[principal.role]:
        return False
    return principal.role == "admin" or principal.role in MODEL_ROLES[model]


def expected(schema: GraphQLSchema, principal: Principal, op: Op, transport: str) -> str:
    """The outcome ``principal`` must get for ``op`` over ``transport``."""
    if principal.role == "bad" and transport != HTTP:
        return REJECTED
    if transport == LEGACY_WS and op.root != "Subscription":
        return LEGACY_REFUSED
    if principal.role in (None, "bad"):
        return UNAUTHENTICATED
    if not all(may(principal, model, permission) for model, permission in op.models):
        return FORBIDDEN
    if principal.tenant is not None and op.creates_in and not has_tenant(schema, op.creates_in):
        # A tenant-bound token writes only documents of its tenant: none of a model
        # without a tenantId.
        return FORBIDDEN
    return op.kind


def outcome(reply: Reply, op: Op) -> str:
    """What a reply amounts to, in the terms of ``expected``."""
    if reply.rejected:
        return REJECTED
    found = codes(reply.errors)
    if reply.pre_execution and op.root != "Subscription" and found == [BAD_USER_INPUT]:
        message = str(reply.errors[0].get("message", ""))
        if re.fullmatch(r"(queries|mutations) are not allowed", message):
            return LEGACY_REFUSED
    if found:
        return found[0] if len(found) == 1 else "+".join(str(c) for c in found)
    value = (reply.data or {}).get(op.field, "<missing>")
    if value is None:
        return NULL
    if value is False:
        return FALSE
    return OK if value != "<missing>" else "no data"


def codes(errors: Iterable[dict[str, Any]]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in errors]


# -- clients -----------------------------------------------------------------------------


@dataclass
class Reply:
    """A reply as it came: the result's ``data`` and ``errors``; ``pre_execution`` when the
    server answered with an error frame instead of a result; ``rejected`` when a WebSocket
    connection was refused; ``events`` the results a subscription sent."""

    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    pre_execution: bool = False
    rejected: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def comparable(self, *ids: str) -> Any:
        """This reply with the given ids, revs, checkpoints and error locations replaced by
        placeholders: two replies that must be the same compare equal this way."""
        return normalise({"data": self.data, "errors": self.errors, "pre": self.pre_execution}, ids)


_VOLATILE = {"rev", "prev", "checkpoint", "sourceRev", "targetRev", "revs", "clock"}


def normalise(value: Any, ids: tuple[str, ...], key: str | None = None) -> Any:
    if key in _VOLATILE and value is not None:
        return "<" + key + ">"
    if key == "checkpoints" and isinstance(value, dict):
        return {k: "<checkpoint>" for k in value}
    if key == "locations":
        return "<locations>"
    if isinstance(value, dict):
        return {k: normalise(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, ids) for v in value]
    if isinstance(value, str):
        for i in ids:
            value = value.replace(i, "<id>")
    return value


class Http:
    """GraphQL over HTTP POST, a shared connection pool, a bounded number in flight."""

    def __init__(self, server: Server, token: str | None, client: httpx.AsyncClient) -> None:
        self.server, self.token, self.client = server, token, client

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> Reply:
        response = await self.client.post(
            self.server.url,
            json={"query": query, "variables": variables or {}},
            headers=auth_headers(self.token),
        )
        assert response.status_code == 200, (response.status_code, response.text[:500])
        body = response.json()
        return Reply(data=body.get("data"), errors=list(body.get("errors") or []))


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=limits) as client:
        yield client


class Rejected(Exception):
    """The server refused the connection_init: how, as the frames said."""


class Ws:
    """One raw WebSocket connection (either subprotocol) carrying many operations at once:
    each reply is collected by its operation id."""

    def __init__(self, server: Server, protocol: str, token: str | None) -> None:
        self.server, self.protocol, self.token = server, protocol, token
        self.ids = itertools.count(1)
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.closed: BaseException | None = None

    @property
    def start(self) -> str:
        return "subscribe" if self.protocol == TRANSPORT_WS else "start"

    async def __aenter__(self) -> Ws:
        self.ws = await websockets.connect(
            self.server.ws_url, subprotocols=[self.protocol], open_timeout=EVENT_TIMEOUT
        )
        assert self.ws.subprotocol == self.protocol
        payload = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        frames = []
        while True:
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT))
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                await self.ws.close()
                raise Rejected(json.dumps({"frames": frames, "close": code})) from None
            if frame.get("type") == "ka":
                continue
            if frame.get("type") == "connection_ack":
                break
            frames.append(frame)
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if "id" in frame and frame["id"] in self.queues:
                    await self.queues[frame["id"]].put(frame)
        except ConnectionClosed as closed:
            self.closed = closed
        for queue in self.queues.values():
            await queue.put({"type": "closed"})

    async def send(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self.ids))
        self.queues[op_id] = asyncio.Queue()
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op_id, "type": self.start, "payload": payload}))
        return op_id

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps({"id": op_id, "type": kind}))

    async def frame(self, op_id: str) -> dict[str, Any]:
        """The next frame for ``op_id``, within EVENT_TIMEOUT (a caller expecting it sooner
        bounds the wait itself)."""
        return await asyncio.wait_for(self.queues[op_id].get(), EVENT_TIMEOUT)

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> Reply:
        """A query or mutation: its one result (or error frame) and the completion."""
        op_id = await self.send(query, variables)
        reply = Reply()
        while True:
            frame = await self.frame(op_id)
            kind = frame["type"]
            if kind in ("next", "data"):
                payload = frame["payload"]
                reply.events.append(payload)
                reply.data = payload.get("data")
                reply.errors = list(payload.get("errors") or [])
            elif kind == "error":
                payload = frame["payload"]
                reply.pre_execution = True
                reply.errors = payload if isinstance(payload, list) else [payload]
                return reply
            elif kind == "complete":
                assert len(reply.events) == 1, (query, reply.events)
                return reply
            else:
                raise AssertionError(f"unexpected frame for {query!r}: {frame}")


def expected_rejection(protocol: str) -> dict[str, Any]:
    """How each subprotocol refuses a connection_init with an unknown token.

    graphql-transport-ws: no frame, the server closes with 4403 (Forbidden).
    graphql-ws (legacy, which has no close codes for it): a connection_error frame whose
    payload says UNAUTHENTICATED, then the server closes the connection."""
    if protocol == TRANSPORT_WS:
        return {"frames": [], "close": 4403}
    return {
        "frames": [
            {
                "type": "connection_error",
                "payload": {"message": "Unknown token", "code": UNAUTHENTICATED},
            }
        ],
        "close": "any",
    }


def rejection_matches(found: str, protocol: str) -> bool:
    got, want = json.loads(found), expected_rejection(protocol)
    frames_ok = [
        {"type": f.get("type"), "code": (f.get("payload") or {}).get("code")} for f in got["frames"]
    ] == [{"type": f["type"], "code": f["payload"]["code"]} for f in want["frames"]]
    return frames_ok and (want["close"] == "any" or got["close"] == want["close"])


@contextlib.asynccontextmanager
async def client(
    server: Server, transport: str, token: str | None
) -> AsyncIterator[Callable[[str, dict[str, Any] | None], Awaitable[Reply]]]:
    """``run(query, variables)`` over HTTP or one WebSocket connection."""
    if transport == HTTP:
        async with http_client() as pool:
            yield Http(server, token, pool).run
    else:
        async with Ws(server, transport, token) as ws:
            yield ws.run
