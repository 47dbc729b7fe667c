"""``serve --log-format json``: every line on stderr is a JSON object; one per GraphQL
operation, WebSocket connection, replication write, conflict and refused token, with the
fields the README lists; and no token's secret in any of them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets
from api.helpers import TRANSPORT_WS, Api, Feed, make_user_conflict, uid
from servers import Server, ServerFactory

from .helpers import events, eventually, log_lines, one_event

RESOLVE = """
mutation Resolve($id: ID!) { resolveConflict(model: "User", modelId: $id, using: SOURCE) }
"""
BAD_TOKEN = "grepl_000000000000_not-a-real-secret"


@pytest.fixture(scope="module")
def server(factory: ServerFactory) -> Iterator[Server]:
    server = factory.start(args=("--log-format", "json", "--log-level", "info"))
    yield server
    factory.close([server])


def token_id(token: str) -> str:
    return token.split("_")[1]


def test_every_line_is_json_and_the_first_say_where_the_server_is(server: Server) -> None:
    lines = log_lines(server)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    (start,) = [line for line in lines if line.get("event") == "serve.start"]
    assert start["demo"] == f"http://127.0.0.1:{server.port}/demo/"
    assert start["store"].startswith("sqlite:////")  # an absolute path
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too


async def test_a_query_is_one_line_with_who_asked_and_how_it_went(server: Server) -> None:
    token = server.token("replicator")
    await Api(server, token).data('query Head { checkpoint(model: "Note") }')
    line = await one_event(server, "graphql.operation", operation_name="Head")
    assert line["operation_type"] == "query"
    assert line["root_fields"] == ["checkpoint"]
    assert line["model"] == "Note"
    assert line["token_id"] == token_id(token)
    assert line["tenant"] is None
    assert line["outcome"] == "ok"
    assert line["duration_ms"] >= 0
    assert line["client"].startswith("127.0.0.1:")
    assert line["transport"] == "http"


async def test_a_mutation_with_a_conflict_and_its_resolution(server: Server) -> None:
    api = Api(server, server.token("replicator"))
    user_id, _ = await make_user_conflict(api)
    conflict = await one_event(server, "replication.conflict", model_id=user_id)
    assert conflict["model"] == "User"
    assert conflict["conflict_fields"] == ["name"]
    writes = events(server, "replication.write", model="User", via="bulkUpdate")
    assert any(w["counts"]["CONFLICT"] == 1 for w in writes), writes
    assert events(server, "graphql.operation", operation_name="Bulk", outcome="ok")

    await api.data(RESOLVE, {"id": user_id})
    resolved = await one_event(server, "replication.resolved", model_id=user_id)
    assert resolved["using"] == "SOURCE"


async def test_a_refused_token_says_why(server: Server) -> None:
    await Api(server, BAD_TOKEN).post('query Refused { checkpoint(model: "Note") }')
    line = await one_event(server, "graphql.operation", operation_name="Refused")
    assert line["outcome"] == "UNAUTHENTICATED"
    assert line["auth_failure"] == "unknown"
    assert line["token_id"] is None

    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {BAD_TOKEN}"}}
        await ws.send(json.dumps(init))
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    refused = await one_event(server, "auth.refused", token_id="000000000000")
    assert refused["reason"] == "unknown"


async def test_a_subscription_opened_and_closed(server: Server) -> None:
    token = server.token("admin")  # used by this test alone: its lines carry its id
    note_id = uid("n-")
    async with Feed(server, token) as feed:
        await Api(server, token).create_note(id=note_id, title="seen live")
        await feed.until(note_id)
    closed = await one_event(server, "websocket.close", token_id=token_id(token))
    assert closed["subscriptions"] == 1
    assert closed["closed_by"] in ("client", "server")
    assert isinstance(closed["code"], int)
    client = closed["client"]
    opened = await one_event(server, "websocket.open", client=client)
    assert opened["subprotocol"] == TRANSPORT_WS
    operation = await one_event(
        server, "graphql.operation", operation_type="subscription", client=client
    )
    assert operation["operation_name"] == "Feed"
    assert operation["root_fields"] == ["changeFeed"]
    assert operation["model"] == "Note"
    assert operation["events"] >= 1
    assert operation["outcome"] == "ok"
    assert operation["transport"] == "websocket"


async def test_no_secret_in_any_line(server: Server) -> None:
    tokens = [server.token(role) for role in ("reader", "writer", "replicator", "admin")]
    tokens.append(server.token("replicator", "acme"))
    for token in tokens:
        await Api(server, token).post('query Secretive { checkpoint(model: "Note") }')
    await Api(server, BAD_TOKEN).post('query Secretive { checkpoint(model: "Note") }')
    await eventually(
        lambda: len(events(server, "graphql.operation", operation_name="Secretive")) == 6,
        "six operation lines",
    )
    text = server.log_text()
    for token in [*tokens, BAD_TOKEN]:
        secret = token.split("_", 2)[2]
        assert secret not in text
    assert all(isinstance(line, dict) for line in log_lines(server))
