"""A live feed's events are written by its hub as they are published (``Feed.direct``,
``connections.immediate_writer``), over uvicorn's own WebSocket protocol, from its private
attributes: these tests fail first if a uvicorn release changes them (no direct
deliveries), and hold the direct writes to what the feed promises: every subscriber gets
exactly the changes ``changes`` lists for its filter and tenant, in order, once; a
subscriber too slow to read is cut off with a checkpoint that resumes it with no gap.

Over the real server (uvicorn on 127.0.0.1) with gql and plain ``websockets`` clients, on
SQLite and MongoDB.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import websockets
from ops.helpers import scrape, value
from servers import Server, ServerFactory

from .helpers import (
    EVENT_TIMEOUT,
    FEED,
    LEGACY_WS,
    TRANSPORT_WS,
    Api,
    Feed,
    uid,
)

STREAM = """
subscription Stream($since: Checkpoint) {
  streamNote(since: $since) { documents { id title tenantId } checkpoint { seq } }
}
"""
DIRECT = "graphql_repl_feed_direct_deliveries_total"
DELIVERED = "graphql_repl_feed_deliveries_total"


def note(title: str, tenant: str | None = None) -> dict[str, Any]:
    key = uid("d-") if tenant is None else f"{tenant}:{uid('d-')}"
    data = {"id": key, "title": title, "tenantId": tenant}
    return {"modelId": key, "type": "CREATE", "data": data}


def data(update: dict[str, Any]) -> dict[str, Any]:
    """The fields ``STREAM`` selects of a written note."""
    return {k: update["data"][k] for k in ("id", "title", "tenantId")}


async def read(feed: Feed, count: int) -> list[dict[str, Any]]:
    return [await feed.next() for _ in range(count)]


async def read_documents(feed: Feed, count: int) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    while len(documents) < count:
        documents += (await feed.next())["documents"]
    return documents


async def test_direct_writes_deliver_what_changes_lists_in_order_once(
    server: Server, tokens: dict[str, str]
) -> None:
    admin = Api(server, tokens["admin"])
    replicator, t1 = tokens["replicator"], tokens["t1"]
    since = await admin.checkpoint()
    shared = {"title": "shared"}
    feeds = {
        "all": Feed(server, replicator, since=since),
        "all, again": Feed(server, replicator, since=since),  # one group with "all"
        "legacy, where": Feed(server, replicator, protocol=LEGACY_WS, since=since, where=shared),
        "tenant t1": Feed(server, t1, since=since),
        "stream": Feed(server, replicator, since=since, query=STREAM, field="streamNote"),
        "stream, legacy": Feed(
            server, replicator, protocol=LEGACY_WS, since=since, query=STREAM, field="streamNote"
        ),
    }
    for feed in feeds.values():
        await feed.__aenter__()
    try:
        # The first event of each subscription goes through Strawberry and opens its lane.
        opening = [note("shared"), note("shared", "t1")]
        await admin.bulk("Note", opening)
        for name, feed in feeds.items():
            if name.startswith("stream"):
                assert await read_documents(feed, 2) == [data(u) for u in opening]
            elif name == "tenant t1":
                await read(feed, 1)
            else:
                await read(feed, 2)
        opened = await admin.checkpoint()
        before = await scrape(server)
        # Single writes and transactions of several (one hub page, several frames each).
        writes = [
            [note("shared")],
            [note("other"), note("shared", "t1"), note("shared", "t2")],
            [note("other", "t1")],
            *([note("shared"), note("x", "t1")] for _ in range(10)),
        ]
        for updates in writes:
            result = await admin.bulk("Note", updates)
            assert {r["status"] for r in result["results"]} == {"APPLIED"}
            await asyncio.sleep(0.02)  # subscribers back to waiting: the hub writes
        everything, _ = await admin.all_changes(since=opened)
        expected = {
            "all": everything,
            "all, again": everything,
            "legacy, where": (await admin.all_changes(since=opened, where=shared))[0],
            "tenant t1": (await Api(server, t1).all_changes(since=opened))[0],
        }
        assert len(expected["tenant t1"]) == 1 + 1 + 10
        for name, changes in expected.items():
            assert await read(feeds[name], len(changes)) == changes, name
        written = [u for updates in writes for u in updates]
        for name in ("stream", "stream, legacy"):
            assert await read_documents(feeds[name], len(written)) == [data(u) for u in written]
        await asyncio.sleep(0.2)
        for feed in feeds.values():  # nothing more: no repeats
            assert feed.queue.empty()
        after = await scrape(server)
        direct = value(after, DIRECT, model="Note") - value(before, DIRECT, model="Note")
        delivered = value(after, DELIVERED, model="Note") - value(before, DELIVERED, model="Note")
        assert delivered == sum(len(c) for c in expected.values()) + 2 * len(written)
        # Nearly all of them, as the writes are spaced out; none when uvicorn changed.
        assert direct >= delivered / 2, (direct, delivered)
    finally:
        for feed in feeds.values():
            await feed.__aexit__(None, None, None)


SUBSCRIBE = {
    "id": "1",
    "type": "subscribe",
    "payload": {
        "query": FEED,
        "variables": {"model": "Note", "since": None, "where": None},
    },
}


async def test_a_subscriber_that_stops_reading_is_cut_off_and_resumes_without_a_gap(
    server_factory: ServerFactory,
) -> None:
    """Direct writes fill the socket of a subscriber that does not read; then its
    changes wait, beyond the limit it is cut off (with its last checkpoint), and
    a feed from that checkpoint brings exactly the rest."""
    server = server_factory.start(env={"GRAPHQL_REPL_FEED_MAX_PENDING": "5"})
    try:
        token = server.token("admin")
        admin = Api(server, token)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills quickly
        sock.connect(("127.0.0.1", server.port))
        async with websockets.connect(
            server.ws_url, sock=sock, subprotocols=[TRANSPORT_WS], max_queue=1, max_size=None
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps(SUBSCRIBE))
            await asyncio.sleep(0.5)  # subscribed (live only)
            first = note("first")
            await admin.bulk("Note", [first])
            frame = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
            assert frame["payload"]["data"]["changeFeed"]["modelId"] == first["modelId"]
            # Then it reads nothing while the writes go on, until it must be cut off.
            body = "x" * 200_000
            for _ in range(60):
                update = note("big")
                update["data"]["body"] = body
                await admin.bulk("Note", [update])
            got: list[dict[str, Any]] = []
            async with asyncio.timeout(EVENT_TIMEOUT * 3):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] != "next" or frame["payload"].get("errors"):
                        break
                    got.append(frame["payload"]["data"]["changeFeed"])
        # An error while the subscription streams: a result with errors (and no data).
        assert frame["type"] == "next", frame
        assert frame["payload"]["data"] is None
        (error,) = frame["payload"]["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "fell too far behind" in error["message"]
        resume = error["extensions"]["checkpoint"]
        assert 0 < len(got) < 60
        assert resume == got[-1]["checkpoint"]
        everything, _ = await admin.all_changes(since=None)
        at = [c["checkpoint"] for c in everything].index(got[0]["checkpoint"])
        assert [c["modelId"] for c in got] == [c["modelId"] for c in everything[at:]][: len(got)]
        # Resumed from its checkpoint: exactly the changes it had not received.
        rest = everything[at + len(got) :]
        async with Feed(server, token, since=resume) as feed:
            assert await read(feed, len(rest)) == rest
    finally:
        server.stop()
