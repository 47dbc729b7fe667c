"""Fuzzing the changeFeed subscription over WebSocket: hypothesis-generated variables (model
names, checkpoints, ``where`` filters) on both subprotocols, for several callers.

Each subscription answers with events or with an error carrying a contract code and a clean
message; the connection is never closed on the client (the variables are the operation's
problem, not the protocol's); the server's log gains no traceback. Each fuzzed
subscription is followed by a probe (a valid subscription that replays one change at once)
so that nothing waits on a clock; every message that arrives, for any id, is checked.
"""

from __future__ import annotations

import asyncio
import collections
import json
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from artifacts import write_artifact  # tests/artifacts.py
from hypothesis import given
from hypothesis import strategies as st
from servers import Server, ServerFactory
from websockets.asyncio.client import ClientConnection, connect

from .callers import auth, caller_token
from .checks import check_errors, tracebacks
from .strategies import EXAMPLES, MODELS, filters, fuzz_settings, json_values

TIMEOUT = 30.0
PROTOCOLS = ("graphql-transport-ws", "graphql-ws")
FEED = """subscription($model: String!, $since: Checkpoint, $where: JSON) {
  changeFeed(model: $model, since: $since, where: $where) { modelId type rev checkpoint data } }"""


@pytest.fixture(scope="module")
def feed_server(factory: ServerFactory) -> tuple[Server, str]:
    """A server with a few notes (of no tenant and of tenant t1); and a checkpoint before
    the last of them."""
    server = factory.start()
    token = server.token("admin")

    def post(query: str, variables: dict[str, Any] | None = None) -> Any:
        body = httpx.post(
            server.url,
            headers=auth(token),
            timeout=TIMEOUT,
            json={"query": query, "variables": variables},
        ).json()
        assert not body.get("errors"), body
        return body["data"]

    for note in ({"id": "a", "title": "a", "views": 1}, {"id": "t1:b", "tenantId": "t1"}):
        post("mutation($d: NoteInput!) { createNote(data: $d) { id } }", {"d": note})
    before = post('query { checkpoint(model: "Note") }')["checkpoint"]
    post('mutation { createNote(data: {id: "t1:c", tenantId: "t1", tags: ["x"]}) { id } }')
    return server, before


@pytest.fixture(scope="module")
def counts() -> Iterator[collections.Counter[str]]:
    made: collections.Counter[str] = collections.Counter()
    yield made
    write_artifact("fuzz-counts.json", {"feed": dict(sorted(made.items()))})
    print(f"\nchangeFeed fuzz: {dict(sorted(made.items()))}")


VALID_FILTERS = [
    {"tenantId": "t1"},
    {"tags": "x"},
    {"views": {"gte": 0}},
    {"or": [{"id": "a"}, {"id": "t1:c"}, {"id": "c"}]},
    {"title": {"like": "%"}},
]


def feed_variables(store_id: str, before: str) -> st.SearchStrategy[dict[str, Any]]:
    checkpoints = st.one_of(
        st.just(before),
        st.none(),
        st.text(max_size=30),
        st.integers(min_value=-3, max_value=2**70).map(lambda n: f"{store_id}-{n}"),
        st.text(alphabet=string.digits + "-x", max_size=12).map(lambda t: f"{store_id}-{t}"),
    )
    typed = st.fixed_dictionaries(
        {"model": st.one_of(st.just("Note"), st.sampled_from(MODELS), st.text(max_size=10))},
        optional={
            "since": checkpoints,
            "where": st.one_of(st.none(), st.sampled_from(VALID_FILTERS), filters, json_values),
        },
    )
    # Valid subscriptions that replay at once, so events are checked too.
    valid = st.fixed_dictionaries(
        {"model": st.just("Note"), "since": st.just(before)},
        optional={"where": st.sampled_from(VALID_FILTERS)},
    )
    anything = st.dictionaries(
        st.sampled_from(["model", "since", "where"]), json_values, max_size=3
    )
    return st.one_of(valid, typed, typed, anything)


async def read_until(ws: ClientConnection, op_id: str, seen: list[dict[str, Any]]) -> None:
    """Read (and keep) messages until one for ``op_id`` arrives."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            if message.get("type") in ("ka", "ping", "pong"):
                continue
            seen.append(message)
            if message.get("id") == op_id:
                return


def check_message(message: dict[str, Any], tenant: str | None = None) -> str:
    """A message the server sent for a subscription; returns its kind. A tenant-bound
    caller's events must all be of its tenant."""
    kind = message.get("type")
    payload = message.get("payload")
    if kind == "error":
        codes = check_errors(payload if isinstance(payload, list) else [payload], str(message))
        return f"error/{'+'.join(sorted(set(codes)))}"
    if kind in ("next", "data"):
        assert isinstance(payload, dict), message
        if payload.get("errors"):
            codes = check_errors(payload["errors"], str(message))
            return f"error/{'+'.join(sorted(set(codes)))}"
        change = payload["data"]["changeFeed"]
        assert change["type"] in ("CREATE", "UPDATE", "DELETE"), message
        if tenant is not None and change["data"] is not None:
            assert change["data"].get("tenantId") == tenant, message
        return "event"
    assert kind == "complete", message
    return "complete"


@pytest.mark.parametrize("caller", ["admin", "tenant", "reader", "none"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fuzz_feed_variables(
    feed_server: tuple[Server, str], counts: collections.Counter[str], protocol: str, caller: str
) -> None:
    server, before = feed_server
    store_id = before.rpartition("-")[0]
    token = caller_token(server, caller)
    mark = len(server.log_text())
    loop = asyncio.new_event_loop()

    async def open_connection() -> ClientConnection:
        ws = await connect(
            server.ws_url,
            subprotocols=[protocol],  # type: ignore[list-item]
            max_size=None,
            max_queue=None,
            open_timeout=TIMEOUT,
            compression=None,
        )
        payload = {} if token is None else {"Authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        async with asyncio.timeout(TIMEOUT):
            while (message := json.loads(await ws.recv()))["type"] == "ka":
                pass
        assert message["type"] == "connection_ack", message
        return ws

    # The probe goes on the same connection: it replays a change at once for a caller who
    # may read the feed, and answers with an error at once for one who may not.
    ws = loop.run_until_complete(open_connection())
    start, stop = ("subscribe", "complete") if protocol == PROTOCOLS[0] else ("start", "stop")
    n = 0

    async def one(variables: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        fuzzed, probe = f"f{n}", f"p{n}"
        await ws.send(
            json.dumps(
                {"id": fuzzed, "type": start, "payload": {"query": FEED, "variables": variables}}
            )
        )
        await ws.send(
            json.dumps(
                {
                    "id": probe,
                    "type": start,
                    "payload": {"query": FEED, "variables": {"model": "Note", "since": before}},
                }
            )
        )
        seen: list[dict[str, Any]] = []
        await read_until(ws, probe, seen)
        answered = False
        for message in seen:
            kind = check_message(message, "t1" if caller == "tenant" else None)
            if message.get("id", "").startswith("f"):
                counts[f"{protocol}/{caller}/{kind}"] += 1
                answered = True
        if not answered:  # a valid subscription with nothing to replay (yet)
            counts[f"{protocol}/{caller}/quiet"] += 1
        for op_id in (fuzzed, probe):
            await ws.send(json.dumps({"id": op_id, "type": stop}))

    @fuzz_settings(max(10, EXAMPLES // 2))
    @given(variables=feed_variables(store_id, before))
    def run(variables: dict[str, Any]) -> None:
        counts[f"{protocol}/{caller}/cases"] += 1
        loop.run_until_complete(one(variables))

    try:
        run()
    finally:
        loop.run_until_complete(ws.close())
        loop.close()
    assert server.alive(), server.log_text()[-4000:]
    found = tracebacks(server.log_text()[mark:])
    assert not found, f"{len(found)} new tracebacks in the server log; the first:\n{found[0]}"
