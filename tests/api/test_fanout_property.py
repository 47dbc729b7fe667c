"""The feed's fast lane (api/fanout.py, api/lanes.py) is a second implementation of what
Strawberry sends: for the same events, every subscriber gets the payloads that plain
Strawberry execution gives, whatever the subscription document, ``where`` filter, tenant
and subprotocol.

The fast side is the server's own ASGI app (``GraphQLApp``: Strawberry's protocol
handlers, our WebSocket adapter), driven in this process through ASGI messages, with
several subscribers per group (on connections of their own, and two on one connection).
The plain side executes each subscription alone with ``schema.subscribe`` (no connection,
so no lane, and no other subscriber to share a result with).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphql_repl import Repository, Settings, demo_registry
from graphql_repl.api import Context, build_schema
from graphql_repl.api.fanout import SharedEvents
from graphql_repl.api.http import GraphQLApp
from graphql_repl.auth import Authenticator, Principal, create_token

EVENT_TIMEOUT = 20.0
TENANTS = [None, "t1", "t2"]
CHANGE_FIELDS = ["modelId", "type", "rev", "prev", "checkpoint", "data", "clock", "model"]
NOTE_FIELDS = ["id", "title", "body", "tags", "views", "tenantId", "_deleted", "_rev"]
PROTOCOL_TYPES = {"graphql-transport-ws": ("subscribe", "next"), "graphql-ws": ("start", "data")}

words = st.sampled_from(["a", "b", "shared", "é ü", 'quote"d', ""])
notes = st.fixed_dictionaries(
    {
        "title": words,
        "body": words,
        "views": st.integers(-3, 3),
        "tags": st.lists(words, max_size=2),
        "tenantId": st.sampled_from(TENANTS),
    }
)
wheres = st.sampled_from(
    [
        None,
        {"title": "shared"},
        {"views": {"gt": 0}},
        {"or": [{"title": "a"}, {"tags": {"inq": ["b"]}}]},
        {"tenantId": "t1"},
    ]
)


@st.composite
def feeds(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(["changeFeed", "streamNote"]))
    if field == "changeFeed":
        picked = draw(st.lists(st.sampled_from(CHANGE_FIELDS), min_size=1, unique=True))
        alias = draw(st.sampled_from(["", "feed: "]))
        query = (
            "subscription Feed($since: Checkpoint, $where: JSON) { "
            f'{alias}changeFeed(model: "Note", since: $since, where: $where) '
            f"{{ {' '.join(picked)} }} }}"
        )
        variables = {"where": draw(wheres)}
    else:
        picked = draw(st.lists(st.sampled_from(NOTE_FIELDS), min_size=1, unique=True))
        query = (
            "subscription($since: Checkpoint) { streamNote(since: $since) "
            f"{{ documents {{ {' '.join(picked)} }} checkpoint {{ seq }} }} }}"
        )
        variables = {}
    return {"query": query, "variables": variables, "tenant": draw(st.sampled_from(TENANTS))}


class AsgiSocket:
    """One WebSocket connection to an ASGI app, through its messages."""

    def __init__(self, app: Any, protocol: str) -> None:
        self.protocol = protocol
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "headers": [(b"sec-websocket-protocol", protocol.encode())],
            "subprotocols": [protocol],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "scheme": "ws",
        }
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.incoming.get, self.outgoing.put))

    def send(self, message: dict[str, Any]) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict[str, Any]:
        while True:
            async with asyncio.timeout(EVENT_TIMEOUT):
                message = await self.outgoing.get()
            if message["type"] == "websocket.send":
                decoded: dict[str, Any] = json.loads(message["text"])
                if decoded["type"] not in ("ka", "ping"):
                    return decoded
            elif message["type"] == "websocket.close":
                raise AssertionError(f"closed: {message}")

    async def open(self, token: str) -> None:
        self.send({"type": "connection_init", "payload": {"token": token}})
        assert (await self.receive())["type"] == "connection_ack"

    async def close(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        async with asyncio.timeout(EVENT_TIMEOUT):
            await self.task


def documents_of(field: str, payloads: list[dict[str, Any]]) -> list[Any]:
    """What a subscriber received: changes one by one; a stream's documents, flattened,
    and its last checkpoint (batches may be cut differently from one subscriber to the
    next: a subscriber that joined later gets in one batch what others got in two)."""
    if field == "changeFeed":
        return payloads
    documents: list[Any] = []
    for p in payloads:
        assert set(p) == {"data"}, p
        documents += p["data"]["streamNote"]["documents"]
    return [*documents, payloads[-1]["data"]["streamNote"]["checkpoint"] if payloads else None]


async def plain(
    repository: Repository,
    feed: dict[str, Any],
    token_tenant: str | None,
    variables: dict[str, Any],
    count: int,
    field: str,
) -> list[Any]:
    schema = build_schema(repository.registry, repository.settings)
    principal = Principal(
        "jwt:plain",
        "admin" if token_tenant is None else "replicator",
        tenant=token_tenant,
        kind="jwt",
    )
    context = Context(
        repository,
        SharedEvents(),
        Authenticator(repository.tokens),
        principal,
        connection_params={},
    )
    stream = await schema.subscribe(feed["query"], variable_values=variables, context_value=context)
    received: list[Any] = []
    async with asyncio.timeout(EVENT_TIMEOUT):
        while len(documents_of(field, received)) < count:
            result = await anext(stream)
            payload: dict[str, Any] = {"data": result.data}
            if result.errors:
                payload["errors"] = [e.formatted for e in result.errors]
            received.append(json.loads(json.dumps(payload)))
    await stream.aclose()
    return documents_of(field, received)


def note_id(name: str, doc: dict[str, Any]) -> str:
    """The id of a document written by the admin (a tenant's documents are ``T:<id>``)."""
    return name if doc["tenantId"] is None else f"{doc['tenantId']}:{name}"


async def expected_count(repository: Repository, feed: dict[str, Any], since: str) -> int:
    model = repository.view(feed["tenant"]).model("Note")
    if "changeFeed" in feed["query"]:
        page = await model.changes(since, feed["variables"]["where"], 5000)
        return len(page.changes)
    return len((await model.pull(since, 5000)).documents) + 1  # and the last checkpoint


async def check_same_payloads(
    directory: Path,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    feeds_: list[dict[str, Any]],
    protocol: str,
) -> None:
    settings = Settings(store=f"sqlite:///{directory / 'property.db'}")
    async with Repository.from_settings(settings, demo_registry()) as repository:
        app = GraphQLApp(repository)
        notes = repository.model("Note")
        since = await notes.checkpoint()
        for i, doc in enumerate(before):
            await notes.create({"id": note_id(f"b{i}", doc), **doc})
        if before:
            await notes.update(note_id("b0", before[0]), {"title": "shared", "views": 9})
        tokens = {}
        for tenant in TENANTS:
            role = "admin" if tenant is None else "replicator"
            tokens[tenant] = await create_token(repository.tokens, role, tenant)
        start, result_type = PROTOCOL_TYPES[protocol]
        # Each feed three times: two connections of its own, and one connection shared
        # with the next feed's third subscriber (two subscriptions on one connection).
        sockets: list[AsgiSocket] = []
        subscribers: list[tuple[AsgiSocket, str, int]] = []
        for n, feed in enumerate(feeds_):
            for copy in range(3):
                if copy < 2 or n % 2 == 0:
                    socket = AsgiSocket(app, protocol)
                    await socket.open(tokens[feed["tenant"]])
                    sockets.append(socket)
                op = f"{n}.{copy}"
                variables = {**feed["variables"], "since": since}
                socket.send(
                    {
                        "id": op,
                        "type": start,
                        "payload": {"query": feed["query"], "variables": variables},
                    }
                )
                subscribers.append((socket, op, n))
        for i, doc in enumerate(after):
            await notes.create({"id": note_id(f"a{i}", doc), **doc})
        received: dict[str, list[Any]] = {op: [] for _, op, _ in subscribers}
        wanted = {n: await expected_count(repository, f, since) for n, f in enumerate(feeds_)}
        fields = {
            n: "changeFeed" if "changeFeed" in f["query"] else "streamNote"
            for n, f in enumerate(feeds_)
        }
        feed_of = {op: n for _, op, n in subscribers}

        def short() -> bool:
            return any(
                len(documents_of(fields[feed_of[op]], got)) < wanted[feed_of[op]]
                for op, got in received.items()
            )

        pending = {s for s, _, _ in subscribers}
        while short():
            socket = next(
                s
                for s in pending
                if any(
                    len(documents_of(fields[feed_of[op]], received[op])) < wanted[feed_of[op]]
                    for t, op, _ in subscribers
                    if t is s
                )
            )
            message = await socket.receive()
            assert message["type"] == result_type, message
            received[message["id"]].append(message["payload"])
        for n, feed in enumerate(feeds_):
            expected = await plain(
                repository,
                feed,
                feed["tenant"],
                {**feed["variables"], "since": since},
                wanted[n],
                fields[n],
            )
            for op, got in received.items():
                if feed_of[op] == n:
                    assert documents_of(fields[n], got) == expected, (feed, op)
        for socket in sockets:
            await socket.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(notes, max_size=4),
    after=st.lists(notes, min_size=1, max_size=4),
    feeds_=st.lists(feeds(), min_size=2, max_size=4),
    protocol=st.sampled_from(sorted(PROTOCOL_TYPES)),
)
def test_fast_lane_payloads_equal_plain_strawberry_execution(before, after, feeds_, protocol):
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(check_same_payloads(Path(directory), before, after, feeds_, protocol))
