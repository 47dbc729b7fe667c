"""Three ``graphql-repl serve`` processes on one MongoDB database, written to through all
three at once: the one holding the sequencer's lease is killed (SIGKILL) mid-burst. The
others take over the sequencing; their writes keep being acknowledged; a pager and a
``changeFeed`` see every acknowledged write once, each writer's in the order written."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from pymongo import AsyncMongoClient
from servers import Server, ServerFactory  # tests/servers.py (pytest puts tests/ on sys.path)

pytestmark = pytest.mark.slow

WRITERS_PER_SERVER = 2
BEFORE_KILL = 6  # acknowledged writes of every writer before the kill
AFTER_TAKEOVER = 6  # ... and of every surviving writer after the takeover
PATIENCE = 60.0  # seconds, for anything to happen on a loaded machine
STATE_ID = "\x00sequencer"

CREATE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
CHANGES = """query($since: Checkpoint) {
  changes(model: "Note", since: $since, limit: 7) { changes { modelId } checkpoint hasMore }
}"""
CHECKPOINT = 'query { checkpoint(model: "Note") }'
FEED = 'subscription($since: Checkpoint) { changeFeed(model: "Note", since: $since) { modelId } }'


@pytest.fixture
def factory(tmp_path: Path, mongodb_url: str) -> Iterator[ServerFactory]:
    servers = ServerFactory(tmp_path, mongodb_url)
    yield servers
    servers.close()


async def _graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    reply = await http.post("/graphql", json={"query": query, "variables": variables})
    reply.raise_for_status()
    body = reply.json()
    if body.get("errors"):
        raise AssertionError(body["errors"])
    data: dict[str, Any] = body["data"]
    return data


def _client(server: Server, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=PATIENCE,
    )


class Writer:
    """Creates notes one after another through one server, keeping those acknowledged."""

    def __init__(self, name: str, server: Server, token: str) -> None:
        self.name, self.server, self.token = name, server, token
        self.acknowledged: list[tuple[str, float]] = []  # (id, when)
        self.failures: list[str] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with _client(self.server, self.token) as http:
            for n in range(100_000):
                if self.stop.is_set():
                    return
                note_id = f"{self.name}-{n:05d}"
                try:
                    await _graphql(http, CREATE, d={"id": note_id, "title": note_id})
                except (httpx.HTTPError, AssertionError) as exc:
                    self.failures.append(f"{note_id}: {exc}")
                    return
                self.acknowledged.append((note_id, time.monotonic()))

    def after(self, moment: float) -> int:
        return sum(1 for _, at in self.acknowledged if at > moment)


async def _feed(server: Server, token: str, since: str, into: list[str]) -> None:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": FEED, "variables": {"since": since}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "next":
                into.append(message["payload"]["data"]["changeFeed"]["modelId"])
            elif message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] in ("error", "complete"):
                raise AssertionError(f"the feed ended: {message}")


async def _holder(state: Any) -> str | None:
    row = await state.find_one({"_id": STATE_ID})
    return None if row is None else row.get("holder")


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {PATIENCE:g} s"
        await asyncio.sleep(0.05)


async def test_the_lease_holder_killed_mid_burst(factory: ServerFactory, mongodb_url: str):
    store = factory.new_store()
    servers = [factory.start(store=store) for _ in range(3)]
    token = servers[0].token("admin")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    state = mongo[urlsplit(store).path.lstrip("/")]["documents"]
    try:
        async with _client(servers[0], token) as http:
            since = (await _graphql(http, CHECKPOINT))["checkpoint"]
        for i, server in enumerate(servers):  # every process follows the stream from here
            async with _client(server, token) as http:
                await _graphql(http, CREATE, d={"id": f"warm-{i}", "title": "warm"})
        held_by = await _holder(state)
        assert held_by is not None
        pid = int(held_by.split(":")[1])
        [doomed] = [s for s in servers if s.process.pid == pid]
        survivors = [s for s in servers if s is not doomed]

        fed: list[str] = []
        feed = asyncio.create_task(_feed(survivors[0], token, since, fed))
        writers = [
            Writer(f"s{i}w{j}", server, token)
            for i, server in enumerate(servers)
            for j in range(WRITERS_PER_SERVER)
        ]
        tasks = [asyncio.create_task(w.run()) for w in writers]
        await _until(lambda: _all(len(w.acknowledged) >= BEFORE_KILL for w in writers), "the burst")

        doomed.stop(signal.SIGKILL)
        killed = time.monotonic()
        await _until(lambda: _taken_over(state, held_by), "a takeover")
        took = time.monotonic() - killed
        print(f"\ntakeover after the holder was killed: {took:.2f} s")
        survivors_writers = [w for w in writers if w.server is not doomed]
        await _until(
            lambda: _all(
                w.after(killed + took) >= AFTER_TAKEOVER or w.failures for w in survivors_writers
            ),
            "writes acknowledged after the takeover",
        )
        for writer in writers:
            writer.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE)

        assert [f for w in survivors_writers for f in w.failures] == []
        acknowledged = {note_id for w in writers for note_id, _ in w.acknowledged}
        async with _client(survivors[1], token) as http:
            paged = await _page_all(http, since)
        await _until(lambda: _has(fed, acknowledged), "the feed")
        feed.cancel()
    finally:
        await mongo.close()

    for seen in (paged, fed):
        assert len(seen) == len(set(seen)), "a change was seen twice"
        assert acknowledged <= set(seen), "an acknowledged write is missing"
        for writer in writers:
            written = [note_id for note_id, _ in writer.acknowledged]
            mine = set(written)
            assert [i for i in seen if i in mine] == written, f"{writer.name}'s out of order"


async def _all(conditions: Any) -> bool:
    return all(conditions)


async def _has(seen: list[str], wanted: set[str]) -> bool:
    return wanted <= set(seen)


async def _taken_over(state: Any, old: str) -> bool:
    holder = await _holder(state)
    return holder is not None and holder != old


async def _page_all(http: httpx.AsyncClient, since: str) -> list[str]:
    seen: list[str] = []
    while True:
        page = (await _graphql(http, CHANGES, since=since))["changes"]
        seen += [c["modelId"] for c in page["changes"]]
        since = page["checkpoint"]
        if not page["hasMore"]:
            return seen
