"""The changeFeed subscription over real WebSockets, both subprotocols (CONTRACT §2):
replay then live with no gap or duplicate at the seam, resume, ``since: null``, ``where``,
a second server on the same SQLite file, and cutting off a slow subscriber."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
import websockets
from gql.transport.exceptions import TransportQueryError
from websockets.exceptions import ConnectionClosed

from .helpers import (
    EVENT_TIMEOUT,
    FEED,
    HTTP_TIMEOUT,
    PROTOCOLS,
    TRANSPORT_WS,
    Api,
    Feed,
    ids_of,
    notes_for_bulk,
    uid,
)

pytestmark = pytest.mark.usefixtures("check_server_alive")
both_protocols = pytest.mark.parametrize("protocol", PROTOCOLS)


@both_protocols
async def test_replays_after_since_then_streams_live(server, tokens, protocol):
    api = Api(server, tokens["admin"])
    before = [uid("rb-") for _ in range(3)]
    after = [uid("ra-") for _ in range(3)]
    middle = (await api.bulk("Note", notes_for_bulk(before)))["checkpoint"]
    await api.bulk("Note", notes_for_bulk(after))
    async with Feed(server, tokens["admin"], since=middle, protocol=protocol) as feed:
        replayed = await feed.take(3)
        assert ids_of(replayed) == after
        assert all(c["type"] == "CREATE" and c["model"] == "Note" for c in replayed)
        assert all(c["data"]["title"] == c["modelId"] for c in replayed)
        live = [uid("rl-") for _ in range(3)]
        for note_id in live:
            await api.create_note(id=note_id, title="live")
        assert ids_of(await feed.take(3)) == live
        # Updates and deletes stream too, each with its checkpoint.
        await api.data(
            'mutation($id: ID!) { updateNote(id: $id, data: {title: "changed"}) { id } }',
            {"id": live[0]},
        )
        await api.data("mutation($id: ID!) { deleteNote(id: $id) }", {"id": live[1]})
        update, delete = await feed.take(2)
        assert (update["modelId"], update["type"], update["data"]["title"]) == (
            live[0],
            "UPDATE",
            "changed",
        )
        assert (delete["modelId"], delete["type"], delete["data"], delete["rev"]) == (
            live[1],
            "DELETE",
            None,
            None,
        )
    # Every event carried the checkpoint `changes` reports for it.
    logged, _ = await api.all_changes(since=middle)
    by_id = {c["modelId"]: c["checkpoint"] for c in logged}
    assert [by_id[c["modelId"]] for c in replayed] == [c["checkpoint"] for c in replayed]


@both_protocols
async def test_concurrent_writers_no_gap_no_duplicate_at_the_seam(server, tokens, protocol):
    """Writers keep writing while the subscriber replays a backlog of several replay pages:
    it ends with every change exactly once, in checkpoint order — the same sequence as
    paging through ``changes`` after the writers stop."""
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    backlog = [uid("bk-") for _ in range(1200)]
    for start in range(0, len(backlog), 400):
        await api.bulk("Note", notes_for_bulk(backlog[start : start + 400]))

    writers, per_writer = 3, 60
    started = asyncio.Event()
    written: list[str] = []

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"Authorization": f"Bearer {tokens['admin']}"}
        ) as client:
            for i in range(per_writer):
                note_id = uid(f"cw{n}-")
                response = await client.post(
                    server.url,
                    json={
                        "query": "mutation($d: NoteInput!) { createNote(data: $d) { id } }",
                        "variables": {"d": {"id": note_id, "title": f"w{n}-{i}"}},
                    },
                )
                assert response.json()["data"]["createNote"]["id"] == note_id
                written.append(note_id)
                if len(written) >= 10:
                    started.set()

    tasks = [asyncio.create_task(writer(n)) for n in range(writers)]
    try:
        await asyncio.wait_for(started.wait(), EVENT_TIMEOUT)
        async with Feed(server, tokens["admin"], since=since, protocol=protocol) as feed:
            expected = set(backlog)
            received: list[dict[str, Any]] = []
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            expected |= set(written)
            seen: set[str] = set()
            while not expected <= seen:
                change = await feed.next()
                received.append(change)
                seen.add(change["modelId"])
            # Nothing more is pending: the next event is a fresh sentinel write.
            sentinel = uid("sentinel-")
            await api.create_note(id=sentinel)
            received.append(await feed.next())
    finally:
        for task in tasks:
            task.cancel()
    logged, _ = await api.all_changes(since=since, limit=700)
    assert [(c["modelId"], c["checkpoint"]) for c in received] == [
        (c["modelId"], c["checkpoint"]) for c in logged
    ]
    assert len(received) == len(backlog) + writers * per_writer + 1
    assert received[-1]["modelId"] == sentinel


@both_protocols
async def test_resume_after_disconnect_gets_exactly_the_missed_changes(server, tokens, protocol):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    first = [uid("r1-") for _ in range(4)]
    async with Feed(server, tokens["admin"], since=since, protocol=protocol) as feed:
        await api.bulk("Note", notes_for_bulk(first))
        got = await feed.take(4)
    assert ids_of(got) == first
    last = got[-1]["checkpoint"]
    missed = [uid("r2-") for _ in range(5)]
    for note_id in missed:
        await api.create_note(id=note_id)
    async with Feed(server, tokens["admin"], since=last, protocol=protocol) as feed:
        assert ids_of(await feed.take(5)) == missed
        sentinel = uid("sentinel-")
        await api.create_note(id=sentinel)
        assert ids_of([await feed.next()]) == [sentinel]


# Probes a since: null feed may need before it is live: far more than it ever takes.
MAX_PROBES = 1000


@both_protocols
async def test_since_null_streams_only_new_changes(server, tokens, protocol):
    api = Api(server, tokens["admin"])
    before = await api.checkpoint()
    old = await api.create_note(title="old")
    # The server's feed publishes a write a moment after acknowledging it (on MongoDB once
    # its sequencer has placed it in the log). A feed replaying from before ``old`` sees it
    # only once it has been published: from then on ``old`` is history, and a since: null
    # feed must not send it.
    async with Feed(server, tokens["admin"], since=before, protocol=protocol) as witness:
        assert ids_of(await witness.until(old["id"]))[-1] == old["id"]
    async with Feed(server, tokens["admin"], since=None, protocol=protocol) as feed:
        # The subscription starts at some point after connecting: probes are written one
        # after another until one arrives; from then on every later write must arrive, in
        # order. No clock decides anything: the writer stops only once the feed has
        # answered, and every probe it wrote after the first to arrive is expected next.
        probes: list[str] = []
        arrived = asyncio.Event()

        async def write_probes() -> None:
            while not arrived.is_set() and len(probes) < MAX_PROBES:
                probes.append(uid("probe-"))
                await api.create_note(id=probes[-1], title="probe")

        writer = asyncio.create_task(write_probes())
        try:
            first: dict[str, Any] | None = await feed.next()
        except TimeoutError:
            first = None
        finally:
            arrived.set()
            await writer
        assert first is not None, "no change arrived on a since: null feed"
        assert first["modelId"] in probes
        assert first["modelId"] != old["id"]
        rest = probes[probes.index(first["modelId"]) + 1 :]
        after = [uid("after-") for _ in range(3)]
        for note_id in after:
            await api.create_note(id=note_id)
        assert ids_of(await feed.take(len(rest) + 3)) == rest + after


@both_protocols
async def test_where_filter_on_the_feed(server, tokens, protocol):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    tag = uid("feedtag-")
    wanted = []
    for i in range(6):
        note_id = uid("fw-")
        if i % 2 == 0:
            wanted.append(note_id)
            await api.create_note(id=note_id, tags=[tag], views=i)
        else:
            await api.create_note(id=note_id, tags=["other"], views=i)
    where = {"tags": tag}
    async with Feed(server, tokens["admin"], since=since, where=where, protocol=protocol) as feed:
        assert ids_of(await feed.take(3)) == wanted
        live_in, live_out = uid("fw-"), uid("fw-")
        await api.create_note(id=live_out, tags=["other"])
        await api.create_note(id=live_in, tags=["x", tag])
        assert ids_of([await feed.next()]) == [live_in]
    # An operator filter as well.
    async with Feed(
        server,
        tokens["admin"],
        since=since,
        where={"and": [{"tags": tag}, {"views": {"gt": 2}}]},
        protocol=protocol,
    ) as feed:
        assert ids_of(await feed.take(1)) == [wanted[2]]


@both_protocols
async def test_bad_filter_on_the_feed_is_refused(server, tokens, protocol):
    async with Feed(server, tokens["admin"], where={"nope": 1}, protocol=protocol) as feed:
        with pytest.raises(TransportQueryError) as raised:
            await feed.next()
    errors = raised.value.errors
    assert errors, f"expected GraphQL errors, got {raised.value!r}"
    assert [(e.get("extensions") or {}).get("code") for e in errors] == ["BAD_USER_INPUT"]


@both_protocols
async def test_writes_of_a_second_server_on_the_same_file_reach_subscribers(
    server, server_factory, tokens, protocol
):
    other = server_factory.start(store=server.store)
    try:
        api, other_api = Api(server, tokens["admin"]), Api(other, tokens["admin"])
        since = await api.checkpoint()
        assert await other_api.checkpoint() == since  # the same store, the same log
        async with (
            Feed(server, tokens["admin"], since=since, protocol=protocol) as here,
            Feed(other, tokens["admin"], since=since, protocol=protocol) as there,
        ):
            from_other = [uid("o-") for _ in range(3)]
            for note_id in from_other:
                await other_api.create_note(id=note_id)
            from_here = uid("h-")
            await api.create_note(id=from_here)
            assert ids_of(await here.take(4)) == [*from_other, from_here]
            assert ids_of(await there.take(4)) == [*from_other, from_here]
    finally:
        assert other.stop() == 0


# -- slow subscribers ----------------------------------------------------------------------

MAX_PENDING = 20
BIG = "x" * 65536


@pytest.fixture(scope="module")
def slow_server(server_factory):
    """A server whose feed cuts a subscriber off after 20 queued changes."""
    return server_factory.start(env={"GRAPHQL_REPL_FEED_MAX_PENDING": str(MAX_PENDING)})


async def _raw_connect(server, token: str) -> Any:
    """A `websockets` client speaking graphql-transport-ws itself, with a tiny receive
    buffer and at most one queued frame, so that not reading really stops reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    ws = await websockets.connect(
        server.ws_url,
        sock=sock,
        subprotocols=[TRANSPORT_WS],
        compression=None,
        max_queue=1,
        max_size=None,
        # Frames it never read may keep it from seeing the server's close frame.
        close_timeout=2,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
    assert ack["type"] == "connection_ack"
    return ws


async def test_a_slow_subscriber_is_cut_off_and_others_are_served(slow_server):
    token = slow_server.token("admin")
    api = Api(slow_server, token)
    since = await api.checkpoint()
    ws = await _raw_connect(slow_server, token)
    try:
        await ws.send(
            json.dumps(
                {
                    "id": "slow",
                    "type": "subscribe",
                    "payload": {"query": FEED, "variables": {"model": "Note", "since": since}},
                }
            )
        )
        healthy_where = {"title": "healthy"}
        async with Feed(slow_server, token, since=since, where=healthy_where) as healthy:
            # The slow client reads nothing from here on, while ~13 MB of changes flow.
            markers = []
            for _round in range(20):
                ids = [uid("big-") for _ in range(10)]
                await api.bulk("Note", notes_for_bulk(ids, body=BIG))
                markers.append(uid("healthy-"))
                await api.create_note(id=markers[-1], title="healthy")
            # The healthy subscriber got every marker, in order: the hub has published all.
            assert ids_of(await healthy.take(len(markers))) == markers

            received: list[dict[str, Any]] = []
            outcome: dict[str, Any] | str | None = None
            try:
                while outcome is None:
                    message = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
                    payload = message.get("payload") or {}
                    if message["type"] == "next" and not payload.get("errors"):
                        received.append(payload["data"]["changeFeed"])
                    elif message["type"] in ("next", "error", "complete"):
                        outcome = message
            except ConnectionClosed as closed:
                outcome = f"closed {closed.rcvd.code if closed.rcvd else None}"
            assert outcome is not None
            total = 20 * 10 + len(markers)
            assert len(received) < total, "the slow subscriber was never cut off"
            if isinstance(outcome, dict):
                # Cut off with an error carrying the last checkpoint it was sent.
                assert outcome["type"] in ("next", "error"), outcome
                errors = (
                    outcome["payload"]["errors"]
                    if outcome["type"] == "next"
                    else outcome["payload"]
                )
                assert len(errors) == 1, errors
                extensions = errors[0].get("extensions") or {}
                assert extensions.get("code") == "INTERNAL_SERVER_ERROR", errors
                assert extensions.get("checkpoint") == (
                    received[-1]["checkpoint"] if received else since
                ), errors
                assert "Traceback" not in errors[0]["message"]
                if outcome["type"] == "next":
                    # An operation that ended with an error is then completed.
                    done = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
                    assert done == {"id": "slow", "type": "complete"}
            # The server keeps serving: the healthy subscriber still gets live changes...
            again = uid("healthy-")
            await api.create_note(id=again, title="healthy")
            assert ids_of([await healthy.next()]) == [again]
        # ...and the cut-off client resumes from its last checkpoint without a gap.
        resume_from = received[-1]["checkpoint"] if received else since
        missed, _ = await api.all_changes(since=resume_from, limit=1000)
        async with Feed(slow_server, token, since=resume_from) as resumed:
            assert ids_of(await resumed.take(len(missed))) == ids_of(missed)
        async with httpx.AsyncClient(timeout=10) as client:
            health = await client.get(slow_server.health_url)
        assert health.status_code == 200
    finally:
        await ws.close()
    assert slow_server.alive()
