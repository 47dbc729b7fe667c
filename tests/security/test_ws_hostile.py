"""Malformed and hostile WebSocket traffic against a real server (raw frames, both
subprotocols where they apply): garbage frames, wrong shapes, unknown types, subscribe
before connection_init, duplicate ids, a second connection_init, an unknown token,
oversized messages, no connection_init in time, too many subscriptions, queries beyond the
alias and token limits, abrupt disconnects mid-replay, a client that never reads, a crowd of
idle connections, and a client that stops answering protocol pings.

Each offending connection must end with a close frame carrying the protocol's code (or,
where the protocol lets the server ignore a message, stay usable) — never an abnormal
close (no close frame, 1006; or 1011) — and through all of it a separate well-behaved
client keeps receiving live changeFeed events, HTTP queries keep answering, the server
process stays alive and its log gains no traceback.

Timeouts are generous (only reached when something is wrong); nothing depends on speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from servers import Server, ServerFactory
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .callers import auth
from .checks import check_errors, tracebacks

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)
TIMEOUT = 30.0  # generous: reached only when something is wrong
MAX_MESSAGE = 64 * 1024
MAX_SUBSCRIPTIONS = 5
MAX_ALIASES = 4
MAX_TOKENS = 2000
# Codes a close frame may carry for a hostile message: the protocols' 44xx and the
# WebSocket codes for protocol error, unsupported data, bad payload, policy, too big.
PROPER_CLOSE = {1002, 1003, 1007, 1008, 1009, 4400, 4401, 4403, 4408, 4409, 4429}

FEED = """subscription($model: String!, $since: Checkpoint) {
  changeFeed(model: $model, since: $since) { modelId checkpoint type } }"""
CREATE_NOTE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
BULK = """mutation($u: [UpdateInput!]!) {
  bulkUpdate(model: "Note", updates: $u) { checkpoint results { status } } }"""
_ids = itertools.count()


def uid(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


# -- the server -----------------------------------------------------------------------------


# Per server (by port): a checkpoint with one change after it, so that a changeFeed from it
# (``since: null`` replays nothing) answers at once with a replayed event.
ORIGINS: dict[int, str] = {}


@pytest.fixture(scope="module")
def server(factory: ServerFactory) -> Server:
    made = factory.start(
        env={
            "GRAPHQL_REPL_MAX_BODY_BYTES": str(MAX_MESSAGE),
            "GRAPHQL_REPL_MAX_SUBSCRIPTIONS": str(MAX_SUBSCRIPTIONS),
            "GRAPHQL_REPL_MAX_ALIASES": str(MAX_ALIASES),
            "GRAPHQL_REPL_MAX_TOKENS": str(MAX_TOKENS),
        }
    )
    token = made.token("admin")
    body = httpx.post(
        made.url,
        headers=auth(token),
        timeout=TIMEOUT,
        json={"query": 'query { checkpoint(model: "Note") }'},
    ).json()
    ORIGINS[made.port] = body["data"]["checkpoint"]
    created = httpx.post(
        made.url,
        headers=auth(token),
        timeout=TIMEOUT,
        json={"query": CREATE_NOTE, "variables": {"d": {"id": "origin"}}},
    ).json()
    assert not created.get("errors"), created
    return made


def assert_clean_log(server: Server, mark: int) -> None:
    """The server is alive, and its log gained no traceback after ``mark``."""
    assert server.alive(), server.log_text()[-4000:]
    found = tracebacks(server.log_text()[mark:])
    assert not found, f"{len(found)} new tracebacks in the server log; the first:\n{found[0]}"


# -- raw clients ----------------------------------------------------------------------------


def subscribe_message(protocol: str, op_id: str, query: str, variables: Any) -> str:
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    return json.dumps(
        {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}}
    )


def stop_message(protocol: str, op_id: str) -> str:
    return json.dumps({"id": op_id, "type": "complete" if protocol == TRANSPORT_WS else "stop"})


def init_message(token: str | None) -> str:
    payload = {} if token is None else {"Authorization": f"Bearer {token}"}
    return json.dumps({"type": "connection_init", "payload": payload})


@contextlib.asynccontextmanager
async def ws_connect(server: Server, protocol: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.ws_url,
        subprotocols=[protocol],  # type: ignore[list-item]
        max_size=None,
        max_queue=None,  # read on: a full queue would hold back the server's close frame
        open_timeout=TIMEOUT,
        close_timeout=5,
        ping_interval=None,
        compression=None,
    ) as ws:
        assert ws.subprotocol == protocol
        yield ws


async def recv(ws: ClientConnection) -> dict[str, Any]:
    """The next message other than a keep-alive (each within TIMEOUT)."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        message: dict[str, Any] = json.loads(raw)
        if message.get("type") not in ("ka", "ping", "pong"):
            return message


async def initialised(ws: ClientConnection, token: str | None) -> None:
    await ws.send(init_message(token))
    message = await recv(ws)
    assert message["type"] == "connection_ack", message


@dataclass
class Closed:
    code: int | None  # None: the connection ended without a close frame
    reason: str
    messages: list[dict[str, Any]]


async def wait_closed(ws: ClientConnection) -> Closed:
    """Read until the server closes the connection (within TIMEOUT); its close code and
    what came before."""
    messages: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                raw = await ws.recv()
                messages.append(json.loads(raw))
    except ConnectionClosed as exc:
        rcvd = exc.rcvd
        return Closed(
            None if rcvd is None else rcvd.code, "" if rcvd is None else rcvd.reason, messages
        )
    except TimeoutError:
        raise AssertionError(f"the server did not close within {TIMEOUT} s: {messages}") from None


async def outcome(ws: ClientConnection, protocol: str, origin: str) -> str:
    """After a hostile message: the connection was closed properly (``closed <code>``), or
    it is still usable (``usable``: a subscription on it receives its replay)."""
    try:
        await ws.send(
            subscribe_message(protocol, "probe", FEED, {"model": "Note", "since": origin})
        )
        while True:
            message = await recv(ws)
            if message.get("id") == "probe":
                assert message["type"] in ("next", "data"), message
                assert "errors" not in message["payload"], message
                return "usable"
            if message["type"] == "connection_error":
                check_connection_error(message.get("payload"))
            elif message["type"] == "error":
                check_errors(_as_list(message.get("payload")), str(message))
            elif isinstance(message.get("payload"), dict) and message["payload"].get("errors"):
                check_errors(message["payload"]["errors"], str(message))
    except ConnectionClosed as exc:
        closed = exc.rcvd
    code = None if closed is None else closed.code
    assert code in PROPER_CLOSE, f"closed with {code} ({closed}): not a proper close"
    return f"closed {code}"


def check_connection_error(payload: Any) -> None:
    """graphql-ws ``connection_error``: a clean message and a contract code (at the top of
    the payload, as the server sends it, or in its extensions)."""
    assert isinstance(payload, dict), payload
    code = payload.get("code") or (payload.get("extensions") or {}).get("code")
    check_errors([{"message": payload.get("message"), "extensions": {"code": code}}])


def _as_list(payload: Any) -> list[Any]:
    return payload if isinstance(payload, list) else [payload]


class Watcher:
    """A well-behaved graphql-transport-ws client on the live changeFeed of Notes."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.log_mark = len(server.log_text())
        self.seen: asyncio.Queue[str] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Watcher:
        token = self.server.token("admin")
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            body = (
                await client.post(
                    self.server.url,
                    headers=auth(token),
                    json={"query": 'query { checkpoint(model: "Note") }'},
                )
            ).json()
        since = body["data"]["checkpoint"]
        ws = await self._stack.enter_async_context(ws_connect(self.server, TRANSPORT_WS))
        await initialised(ws, token)
        await ws.send(subscribe_message(TRANSPORT_WS, "w", FEED, {"model": "Note", "since": since}))
        self.task = asyncio.create_task(self._pump(ws))
        return self

    async def _pump(self, ws: ClientConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "next":
                await self.seen.put(message["payload"]["data"]["changeFeed"]["modelId"])
            elif message.get("type") in ("error", "complete"):
                await self.seen.put(f"!{message}")

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self._stack.aclose()

    async def still_served(self) -> None:
        """A note written now over HTTP reaches this watcher; HTTP queries answer; the
        server's log gained no traceback since this watcher started."""
        assert_clean_log(self.server, self.log_mark)
        note_id = uid("live-")
        token = self.server.token("admin")
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.post(
                self.server.url,
                headers=auth(token),
                json={"query": CREATE_NOTE, "variables": {"d": {"id": note_id}}},
            )
            assert response.status_code == 200, response.text
            assert not response.json().get("errors"), response.text
            health = await client.get(self.server.health_url)
            assert health.status_code == 200
        async with asyncio.timeout(TIMEOUT):
            while True:
                seen = await self.seen.get()
                assert not seen.startswith("!"), f"the watcher's feed ended: {seen}"
                if seen == note_id:
                    break
        assert self.task is not None
        assert not self.task.done()
        assert self.server.alive()
        assert_clean_log(self.server, self.log_mark)


@pytest.fixture
async def watcher(server: Server) -> AsyncIterator[Watcher]:
    async with Watcher(server) as made:
        await made.still_served()
        yield made


# -- garbage and wrong shapes ---------------------------------------------------------------

GARBAGE: dict[str, str | bytes] = {
    "not-json": "not json {",
    "binary": b"\x00\x01\x02garbage",
    "empty-text": "",
    "unknown-type": json.dumps({"type": "no_such_type", "id": "1"}),
    "object-without-type": json.dumps({"id": "1"}),
    "type-not-a-string": json.dumps({"type": 5}),
    "subscribe-without-payload": json.dumps({"type": "subscribe", "id": "s"}),
    "start-without-payload": json.dumps({"type": "start", "id": "s"}),
    "payload-not-an-object": json.dumps({"type": "subscribe", "id": "s", "payload": "x"}),
    "id-not-a-string": json.dumps(
        {"type": "subscribe", "id": 7, "payload": {"query": "{ __typename }"}}
    ),
    "query-not-a-string": json.dumps({"type": "subscribe", "id": "q", "payload": {"query": 1}}),
    "variables-not-an-object": json.dumps(
        {"type": "subscribe", "id": "v", "payload": {"query": FEED, "variables": [1]}}
    ),
    "invalid-query": json.dumps(
        {"type": "subscribe", "id": "i", "payload": {"query": "subscription { nope }"}}
    ),
    "bad-checkpoint": json.dumps(
        {
            "type": "subscribe",
            "id": "c",
            "payload": {"query": FEED, "variables": {"model": "Note", "since": "x-99"}},
        }
    ),
}
# JSON that is not an object at all (Strawberry's handlers once indexed it as one).
NOT_OBJECTS: dict[str, str] = {
    "json-list": "[1, 2]",
    "json-number": "1",
    "json-string": '"connection_init"',
    "json-null": "null",
    "json-true": "true",
}


# What graphql-transport-ws must do: close with 4400 for an invalid message; for a
# well-formed subscribe whose operation is bad, an error message (the connection stays).
TRANSPORT_EXPECTED = {"invalid-query": {"usable"}, "bad-checkpoint": {"usable"}}


def _garbage_cases() -> list[Any]:
    return [
        pytest.param(protocol, name, id=f"{protocol}-{name}")
        for protocol in PROTOCOLS
        for name in sorted(GARBAGE)
    ]


async def _hostile(server: Server, protocol: str, frame: str | bytes) -> str:
    token = server.token("admin")
    async with ws_connect(server, protocol) as ws:
        await initialised(ws, token)
        await ws.send(frame)
        return await outcome(ws, protocol, ORIGINS[server.port])


@pytest.mark.parametrize(("protocol", "name"), _garbage_cases())
async def test_garbage_message(server: Server, watcher: Watcher, protocol: str, name: str) -> None:
    result = await _hostile(server, protocol, GARBAGE[name])
    if protocol == TRANSPORT_WS:
        assert result in TRANSPORT_EXPECTED.get(name, {"closed 4400"}), result
    await watcher.still_served()


@pytest.mark.parametrize("name", sorted(NOT_OBJECTS))
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_json_that_is_not_an_object(
    server: Server, watcher: Watcher, protocol: str, name: str
) -> None:
    result = await _hostile(server, protocol, NOT_OBJECTS[name])
    if protocol == TRANSPORT_WS:
        assert result == "closed 4400", result
    await watcher.still_served()


# -- protocol violations --------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribe_before_connection_init(
    server: Server, watcher: Watcher, protocol: str
) -> None:
    async with ws_connect(server, protocol) as ws:
        await ws.send(subscribe_message(protocol, "1", FEED, {"model": "Note"}))
        closed = await wait_closed(ws)
    assert not [m for m in closed.messages if m.get("type") in ("next", "data")], closed
    if protocol == TRANSPORT_WS:
        assert closed.code == 4401, closed
    else:
        assert closed.code in PROPER_CLOSE, closed
    await watcher.still_served()


async def test_duplicate_subscribe_id_closes_4409(server: Server, watcher: Watcher) -> None:
    async with ws_connect(server, TRANSPORT_WS) as ws:
        await initialised(ws, server.token("admin"))
        for _ in range(2):
            await ws.send(subscribe_message(TRANSPORT_WS, "dup", FEED, {"model": "Note"}))
        closed = await wait_closed(ws)
    assert closed.code == 4409, closed
    await watcher.still_served()


async def test_legacy_duplicate_start_id_keeps_one_stream(server: Server, watcher: Watcher) -> None:
    """graphql-ws has no close code for it: the connection must stay usable, and a write
    reaches the id once per message, not twice."""
    token = server.token("admin")
    async with ws_connect(server, LEGACY_WS) as ws:
        await initialised(ws, token)
        since = await _checkpoint(server)
        for _ in range(2):
            await ws.send(
                subscribe_message(LEGACY_WS, "dup", FEED, {"model": "Note", "since": since})
            )
        note_id = uid("dup-")
        await _create_note(server, note_id)
        received = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await recv(ws)
                if message["type"] == "data":
                    change = message["payload"]["data"]["changeFeed"]
                    received.append(change["modelId"])
                    if change["modelId"] == note_id:
                        break
        # Anything still in flight for the same change would be a duplicate.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while True:
                    message = await recv(ws)
                    if message["type"] == "data":
                        received.append(message["payload"]["data"]["changeFeed"]["modelId"])
        assert received.count(note_id) == 1, received
    await watcher.still_served()


async def test_second_connection_init_closes_4429(server: Server, watcher: Watcher) -> None:
    async with ws_connect(server, TRANSPORT_WS) as ws:
        await initialised(ws, server.token("admin"))
        await ws.send(init_message(server.token("admin")))
        closed = await wait_closed(ws)
    assert closed.code == 4429, closed
    await watcher.still_served()


async def test_legacy_second_connection_init_is_harmless(server: Server, watcher: Watcher) -> None:
    token = server.token("admin")
    async with ws_connect(server, LEGACY_WS) as ws:
        await initialised(ws, token)
        await ws.send(init_message(token))
        result = await outcome(ws, LEGACY_WS, ORIGINS[server.port])
    assert result == "usable" or result.startswith("closed"), result
    await watcher.still_served()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_token_is_refused(server: Server, watcher: Watcher, protocol: str) -> None:
    async with ws_connect(server, protocol) as ws:
        await ws.send(init_message("grepl_0000_nope"))
        closed = await wait_closed(ws)
    if protocol == TRANSPORT_WS:
        assert closed.code in PROPER_CLOSE, closed
    else:
        # graphql-ws: connection_error, then a close (1011 in the reference server).
        assert closed.code in PROPER_CLOSE | {1011}, closed
        assert [m["type"] for m in closed.messages] == ["connection_error"], closed
        check_connection_error(closed.messages[0]["payload"])
    assert not [m for m in closed.messages if m.get("type") == "connection_ack"], closed
    await watcher.still_served()


# -- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("before_init", [False, True], ids=["after-init", "before-init"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_message_larger_than_the_limit_closes_1009(
    server: Server, watcher: Watcher, protocol: str, before_init: bool
) -> None:
    async with ws_connect(server, protocol) as ws:
        if not before_init:
            await initialised(ws, server.token("admin"))
        padding = "x" * (MAX_MESSAGE + 1024)
        await ws.send(subscribe_message(protocol, "big", FEED, {"model": "Note", "p": padding}))
        closed = await wait_closed(ws)
    assert closed.code == 1009, closed
    await watcher.still_served()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_message_under_the_limit_is_served(
    server: Server, watcher: Watcher, protocol: str
) -> None:
    """Just under the limit: an ordinary (if odd) subscription, answered as usual."""
    token = server.token("admin")
    async with ws_connect(server, protocol) as ws:
        await initialised(ws, token)
        since = await _checkpoint(server)
        padding = "x" * (MAX_MESSAGE - 2048)
        query = FEED.replace("{ modelId", f"{{ modelId # {padding}\n", 1)
        await ws.send(subscribe_message(protocol, "big", query, {"model": "Note", "since": since}))
        note_id = uid("under-")
        await _create_note(server, note_id)
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await recv(ws)
                assert message["type"] in ("next", "data"), message
                if message["payload"]["data"]["changeFeed"]["modelId"] == note_id:
                    break
    await watcher.still_served()


async def test_no_connection_init_in_time_closes_4408(
    factory: ServerFactory, server: Server
) -> None:
    quick = factory.start(env={"GRAPHQL_REPL_WS_INIT_TIMEOUT": "2"})
    try:
        async with ws_connect(quick, TRANSPORT_WS) as ws:
            closed = await wait_closed(ws)
        assert closed.code == 4408, closed
        # An initialised connection is not affected by the timeout.
        async with Watcher(quick) as watching:
            await asyncio.sleep(3)
            await watching.still_served()
        assert_clean_log(quick, 0)
    finally:
        factory.close([quick])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_beyond_the_limit_get_bad_user_input(
    server: Server, watcher: Watcher, protocol: str
) -> None:
    token = server.token("admin")
    async with ws_connect(server, protocol) as ws:
        await initialised(ws, token)
        since = await _checkpoint(server)
        variables = {"model": "Note", "since": since}
        for i in range(MAX_SUBSCRIPTIONS):
            await ws.send(subscribe_message(protocol, f"s{i}", FEED, variables))
        await ws.send(subscribe_message(protocol, "over", FEED, variables))
        over = await _until_id(ws, "over")
        errors = _errors_of(over)
        assert errors, over
        assert check_errors(errors, str(over)) == ["BAD_USER_INPUT"], over
        origin = ORIGINS[server.port]

        # The connection stays usable: every admitted subscription receives a new write;
        # ending one makes room for another.
        note_id = uid("limit-")
        await _create_note(server, note_id)
        admitted = {f"s{i}" for i in range(MAX_SUBSCRIPTIONS)}
        assert await _events_for(ws, note_id, admitted) == admitted
        await ws.send(stop_message(protocol, "s0"))
        # The room may be made a moment after the stop is read: try until admitted (a
        # subscription replaying from ORIGINS answers at once, with an event or an error).
        again = ""
        for attempt in range(100):
            again = f"again{attempt}"
            await ws.send(
                subscribe_message(protocol, again, FEED, {"model": "Note", "since": origin})
            )
            first = await _until_id(ws, again)
            if not _errors_of(first):
                break
            assert check_errors(_errors_of(first)) == ["BAD_USER_INPUT"], first
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("ending a subscription never made room for another")
        note_id = uid("limit-")
        await _create_note(server, note_id)
        expected = admitted - {"s0"} | {again}
        assert await _events_for(ws, note_id, expected, ignore=frozenset({"s0"})) == expected
    await watcher.still_served()


def _feed_selecting(selection: str) -> str:
    return f"""subscription($model: String!, $since: Checkpoint) {{
      changeFeed(model: $model, since: $since) {{ {selection} }} }}"""


OVER_LIMITS = {
    "aliases": _feed_selecting(" ".join(f"a{i}: modelId" for i in range(MAX_ALIASES + 1))),
    "tokens": _feed_selecting(" ".join(["modelId"] * MAX_TOKENS)),
}


@pytest.mark.parametrize("limit", sorted(OVER_LIMITS))
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_query_limits_over_websocket(
    server: Server, watcher: Watcher, protocol: str, limit: str
) -> None:
    """A subscription beyond a query limit gets an error with BAD_USER_INPUT; the
    connection stays usable."""
    async with ws_connect(server, protocol) as ws:
        await initialised(ws, server.token("admin"))
        await ws.send(subscribe_message(protocol, "over", OVER_LIMITS[limit], {"model": "Note"}))
        over = await _until_id(ws, "over")
        errors = _errors_of(over)
        assert errors, over
        assert set(check_errors(errors, str(over))) == {"BAD_USER_INPUT"}, over
        assert await outcome(ws, protocol, ORIGINS[server.port]) == "usable"
    await watcher.still_served()


# -- abrupt disconnects mid-replay ----------------------------------------------------------

REPLAY_NOTES = 2000
DROPS = 30
# Per server (by port): the checkpoint before its replay notes were written.
REPLAY_FROM: dict[int, str] = {}


async def _replay_notes(server: Server) -> str:
    """~2000 notes written once per server; the checkpoint before them (``since: null``
    replays nothing, this replays them all)."""
    if server.port in REPLAY_FROM:
        return REPLAY_FROM[server.port]
    token = server.token("admin")
    before = await _checkpoint(server)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        for start in range(0, REPLAY_NOTES, 100):  # small requests: the body limit is small
            updates = [
                {
                    "modelId": f"r{i:05d}",
                    "type": "CREATE",
                    "data": {"id": f"r{i:05d}", "title": "x" * 50},
                }
                for i in range(start, start + 100)
            ]
            response = await client.post(
                server.url, headers=auth(token), json={"query": BULK, "variables": {"u": updates}}
            )
            assert response.status_code == 200, response.text[:500]
            assert not response.json().get("errors"), response.text[:500]
    REPLAY_FROM[server.port] = before
    return before


async def _drop_mid_replay(server: Server, protocol: str, since: str) -> None:
    """Open a feed replaying the notes, read its first event, and drop the TCP connection
    without a close frame."""
    ws = await connect(
        server.ws_url,
        subprotocols=[protocol],  # type: ignore[list-item]
        max_size=None,
        max_queue=None,  # read on: a full queue would hold back the server's close frame
        open_timeout=TIMEOUT,
        ping_interval=None,
        compression=None,
    )
    try:
        await initialised(ws, server.token("admin"))
        await ws.send(subscribe_message(protocol, "r", FEED, {"model": "Note", "since": since}))
        first = await recv(ws)
        assert first["type"] in ("next", "data"), first
    finally:
        ws.transport.abort()  # no close frame, no FIN handshake: a reset


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_abrupt_disconnects_mid_replay(
    server: Server, watcher: Watcher, protocol: str
) -> None:
    """30 times: a feed replaying ~2000 notes, dropped right after its first event. The
    watcher keeps receiving, HTTP answers, and a full replay afterwards arrives whole."""
    since = await _replay_notes(server)
    for n in range(DROPS):
        await _drop_mid_replay(server, protocol, since)
        if n % 10 == 9:
            await watcher.still_served()
    async with ws_connect(server, TRANSPORT_WS) as ws:
        await initialised(ws, server.token("admin"))
        await ws.send(
            subscribe_message(TRANSPORT_WS, "all", FEED, {"model": "Note", "since": since})
        )
        seen = set()
        async with asyncio.timeout(TIMEOUT * 4):
            while len([i for i in seen if i.startswith("r")]) < REPLAY_NOTES:
                message = await recv(ws)
                assert message["type"] == "next", message
                seen.add(message["payload"]["data"]["changeFeed"]["modelId"])
    await watcher.still_served()


async def test_legacy_abrupt_disconnect_mid_replay_leaves_no_traceback(
    server: Server, watcher: Watcher
) -> None:
    since = await _replay_notes(server)
    for _ in range(10):
        await _drop_mid_replay(server, LEGACY_WS, since)
    await watcher.still_served()
    # An abandoned task's exception is logged when the task is collected: give it a moment.
    for _ in range(50):
        if tracebacks(server.log_text()[watcher.log_mark :]):
            break
        await asyncio.sleep(0.1)
    assert_clean_log(server, watcher.log_mark)


# -- clients that stop reading, and crowds -------------------------------------------------


async def test_a_client_that_never_reads(server: Server, watcher: Watcher) -> None:
    """A connection with the most subscriptions allowed, each replaying ~2000 notes, that
    never reads a byte: the server must go on serving everyone else."""
    since = await _replay_notes(server)
    ws = await connect(
        server.ws_url,
        subprotocols=[TRANSPORT_WS],  # type: ignore[list-item]
        max_size=None,
        open_timeout=TIMEOUT,
        ping_interval=None,
        compression=None,
    )
    try:
        await initialised(ws, server.token("admin"))
        ws.transport.pause_reading()  # from here on, nothing is read from the socket
        for i in range(MAX_SUBSCRIPTIONS):
            await ws.send(
                subscribe_message(TRANSPORT_WS, f"r{i}", FEED, {"model": "Note", "since": since})
            )
        for _ in range(3):
            await watcher.still_served()
    finally:
        ws.transport.abort()
    await watcher.still_served()


async def test_a_crowd_of_idle_connections(server: Server, watcher: Watcher) -> None:
    """Fifty connections that never send connection_init, and fifty initialised ones that
    never subscribe, open at once."""
    async with contextlib.AsyncExitStack() as stack:
        for i in range(100):
            ws = await stack.enter_async_context(ws_connect(server, PROTOCOLS[i % 2]))
            if i >= 50:
                await initialised(ws, server.token("reader"))
        await watcher.still_served()
    await watcher.still_served()


async def test_broken_handshakes(server: Server, watcher: Watcher) -> None:
    """Raw TCP clients that send half an upgrade request, a wrong key, or bytes that are not
    HTTP at all, then vanish."""
    host, port = "127.0.0.1", server.port
    half = (
        f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
    ).encode()
    bad_key = half + (
        b"Sec-WebSocket-Key: not-base64!\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    wrong_version = half + (
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n"
    )
    for payload in (half, bad_key, wrong_version, b"\x16\x03\x01\x00\xa5garbage", b"\x00" * 64):
        writers = []
        for _ in range(10):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(payload)
            await writer.drain()
            writers.append((reader, writer))
        for reader, writer in writers:
            if payload is not half:  # a complete (if bad) request may get an answer first
                with contextlib.suppress(ConnectionError, TimeoutError):
                    await asyncio.wait_for(reader.read(1), 5)
            writer.transport.abort()
        await watcher.still_served()


async def test_a_client_that_stops_answering_pings_is_disconnected(
    factory: ServerFactory,
) -> None:
    """With protocol-level pings every 0.5 s and a 0.5 s timeout, a client that stops
    reading (so answers no ping) is disconnected; an attentive one is not."""
    pinging = factory.start(
        env={"GRAPHQL_REPL_WS_PING_INTERVAL": "0.5", "GRAPHQL_REPL_WS_PING_TIMEOUT": "0.5"}
    )
    try:
        async with Watcher(pinging) as watching, ws_connect(pinging, TRANSPORT_WS) as ws:
            await initialised(ws, pinging.token("admin"))
            closed = None
            for pause in (2, 4, 8, 16):  # longer each time: a busy machine may be slow
                ws.transport.pause_reading()
                await asyncio.sleep(pause)
                ws.transport.resume_reading()
                try:
                    await asyncio.wait_for(ws.recv(), 2)
                except ConnectionClosed as exc:
                    closed = exc
                    break
                except TimeoutError:
                    continue
            assert closed is not None, "the server kept a client that answers no ping"
            # The attentive watcher (its library answers pings) is still served.
            await watching.still_served()
        assert_clean_log(pinging, 0)
    finally:
        factory.close([pinging])


# -- helpers --------------------------------------------------------------------------------


async def _checkpoint(server: Server) -> str:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(
            server.url,
            headers=auth(server.token("admin")),
            json={"query": 'query { checkpoint(model: "Note") }'},
        )
    checkpoint: str = response.json()["data"]["checkpoint"]
    return checkpoint


async def _create_note(server: Server, note_id: str) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(
            server.url,
            headers=auth(server.token("admin")),
            json={"query": CREATE_NOTE, "variables": {"d": {"id": note_id}}},
        )
    assert response.status_code == 200, response.text
    assert not response.json().get("errors"), response.text


async def _until_id(ws: ClientConnection, op_id: str) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await recv(ws)
            if message.get("id") == op_id:
                return message


def _errors_of(message: dict[str, Any]) -> list[Any]:
    """The GraphQL errors an ``error`` (or ``next``/``data`` with errors) message carries."""
    payload = message.get("payload")
    if message["type"] == "error":
        return _as_list(payload)
    if isinstance(payload, dict) and payload.get("errors"):
        return list(payload["errors"])
    return []


async def _events_for(
    ws: ClientConnection, note_id: str, expected: set[str], ignore: frozenset[str] = frozenset()
) -> set[str]:
    """The ids of the subscriptions that received ``note_id``: at least ``expected``; events
    for ids in ``ignore`` (ended, possibly still in flight) are skipped."""
    got: set[str] = set()
    async with asyncio.timeout(TIMEOUT):
        while not expected <= got:
            message = await recv(ws)
            if message.get("id") in ignore:
                continue
            assert message["type"] in ("next", "data"), message
            if message["payload"]["data"]["changeFeed"]["modelId"] == note_id:
                got.add(message["id"])
    return got
