"""WebSocket authentication (CONTRACT §5): the token travels in the connection_init
payload, as ``{"Authorization": "Bearer <token>"}`` or ``{"token": "<token>"}``."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from gql.transport.exceptions import TransportError, TransportQueryError
from websockets.exceptions import ConnectionClosed

from .helpers import EVENT_TIMEOUT, LEGACY_WS, PROTOCOLS, TRANSPORT_WS, Api, Feed, codes, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")
UNKNOWN = "grepl_000000000000_no-such-token"


@pytest.fixture
async def replayable(server, tokens) -> tuple[str, str]:
    """A checkpoint followed by one Note: a feed since it has an event at once."""
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    note = await api.create_note(id=uid("wsauth-"))
    return since, note["id"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "payload",
    [
        lambda t: {"Authorization": f"Bearer {t}"},
        lambda t: {"authorization": f"Bearer {t}"},
        lambda t: {"token": t},
    ],
    ids=["Authorization", "authorization", "token"],
)
async def test_token_in_connection_init(server, tokens, replayable, protocol, payload):
    since, note_id = replayable
    async with Feed(
        server, None, since=since, protocol=protocol, init_payload=payload(tokens["replicator"])
    ) as feed:
        change = await feed.next()
    assert change["modelId"] == note_id


async def test_unknown_token_is_rejected_at_connection_init_with_4403(server):
    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {UNKNOWN}"}}
            )
        )
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_unknown_token_form_is_rejected_with_4403(server):
    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": UNKNOWN}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_unknown_token_is_rejected_on_the_legacy_protocol(server):
    """graphql-ws (legacy) has no close codes for this: connection_error, then the server
    closes the connection."""
    async with websockets.connect(server.ws_url, subprotocols=[LEGACY_WS]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {UNKNOWN}"}}
            )
        )
        message = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
        assert message["type"] == "connection_error"
        assert message["payload"].get("code") == "UNAUTHENTICATED"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_token_fails_the_gql_client(server, protocol):
    feed = Feed(server, UNKNOWN, protocol=protocol)
    # The gql client's errors are TransportErrors; a timeout would mean it hung.
    with pytest.raises((TransportError, TimeoutError)) as raised:
        async with feed:
            await feed.next()
    assert not isinstance(raised.value, TimeoutError)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_no_token_subscription_is_unauthenticated(server, replayable, protocol):
    since, _ = replayable
    async with Feed(server, None, since=since, protocol=protocol) as feed:
        with pytest.raises(TransportQueryError) as raised:
            await feed.next()
    assert codes(raised.value.errors or []) == ["UNAUTHENTICATED"], raised.value.errors


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_non_bearer_authorization_in_connection_init_gets_no_access(
    server, tokens, replayable, protocol
):
    since, _ = replayable
    payload = {"Authorization": f"Basic {tokens['admin']}"}
    async with Feed(server, None, since=since, protocol=protocol, init_payload=payload) as feed:
        with pytest.raises(TransportQueryError) as raised:
            await feed.next()
    assert codes(raised.value.errors or []) == ["UNAUTHENTICATED"], raised.value.errors
