"""``serve --workers 2``: two server processes on one port and one store.

Which worker holds a connection is read from the operating system (psutil: the worker
process whose socket's peer is the client's address), so each test knows it writes and
subscribes through both workers rather than hoping the kernel spread the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psutil
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from servers import Server  # tests/servers.py

from .helpers import CHANGES, CHECKPOINT, CREATE_NOTE, EVENT_TIMEOUT, LEGACY_WS, TRANSPORT_WS, uid

WORKERS = 2
FIND_TIMEOUT = 30.0
FEED_QUERY = """
subscription Feed($since: Checkpoint) {
  changeFeed(model: "Note", since: $since) { modelId checkpoint }
}
"""
NOTE = "query One($id: ID!) { note(id: $id) { id title } }"
# The message types that start a subscription and carry its results, by subprotocol.
START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}
RESULT = {TRANSPORT_WS: "next", LEGACY_WS: "data"}


def workers_of(server: Server) -> list[psutil.Process]:
    """The worker processes (the supervisor's other child is multiprocessing's resource
    tracker)."""
    workers = []
    for child in psutil.Process(server.process.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if any("spawn_main" in part for part in child.cmdline()):
                workers.append(child)
    return workers


def worker_holding(server: Server, client: tuple[str, int]) -> int | None:
    """The pid of the worker whose connection's peer is ``client`` (None: not found yet)."""
    for worker in workers_of(server):
        with contextlib.suppress(psutil.NoSuchProcess):
            for conn in worker.net_connections(kind="tcp"):
                if conn.raddr and (conn.raddr.ip, conn.raddr.port) == client:
                    return worker.pid
    return None


async def wait_for_worker(server: Server, client: tuple[str, int]) -> int:
    deadline = time.monotonic() + FIND_TIMEOUT
    while (pid := worker_holding(server, client)) is None:
        assert time.monotonic() < deadline, f"no worker holds the connection from {client}"
        await asyncio.sleep(0.05)
    return pid


class Writer:
    """An HTTP client on one keep-alive connection, so on one worker."""

    def __init__(self, server: Server, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=EVENT_TIMEOUT,
            limits=httpx.Limits(max_connections=1),
        )
        self.pid = 0

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def connect(self, server: Server) -> int:
        response = await self.http.get("/health")
        sockname = response.extensions["network_stream"].get_extra_info("client_addr")
        self.pid = await wait_for_worker(server, (sockname[0], sockname[1]))
        return self.pid


class Subscriber:
    """A raw changeFeed subscription over ``protocol`` on one WebSocket, so one worker."""

    def __init__(self, ws: websockets.ClientConnection, protocol: str, pid: int) -> None:
        self.ws = ws
        self.protocol = protocol
        self.pid = pid

    async def changes(self, count: int) -> list[tuple[str, str]]:
        """The next ``count`` changes, as (modelId, checkpoint)."""
        got: list[tuple[str, str]] = []
        while len(got) < count:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT))
            if message["type"] == RESULT[self.protocol]:
                change = message["payload"]["data"]["changeFeed"]
                got.append((change["modelId"], change["checkpoint"]))
            elif message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] != "ka":
                pytest.fail(f"unexpected message {message}")
        return got

    async def ended(self) -> str:
        """How the subscription ended once the server stopped: a complete message or a
        close (with its code)."""
        while True:
            try:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT))
            except websockets.ConnectionClosed as closed:
                return f"close {closed.rcvd.code if closed.rcvd else None}"
            if message["type"] == "complete":
                return "complete"


async def subscribe(server: Server, token: str, protocol: str, since: str) -> Subscriber:
    ws = await websockets.connect(server.ws_url, subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    query = {"query": FEED_QUERY, "variables": {"since": since}}
    await ws.send(json.dumps({"id": "1", "type": START[protocol], "payload": query}))
    pid = await wait_for_worker(server, ws.local_address[:2])
    return Subscriber(ws, protocol, pid)


@contextlib.asynccontextmanager
async def one_per_worker(make: Any, close: Any) -> AsyncIterator[dict[int, Any]]:
    """Connections made by ``make(i)`` until each worker holds one; the others closed."""
    kept: dict[int, Any] = {}
    extra: list[Any] = []
    try:
        for i in itertools.count():
            assert i < 200, f"the connections reached only workers {sorted(kept)}"
            made = await make(i)
            if made.pid in kept:
                extra.append(made)
            else:
                kept[made.pid] = made
            if len(kept) == WORKERS:
                break
        for made in extra:
            await close(made)
        yield kept
    finally:
        for made in kept.values():
            await close(made)


@pytest.fixture
def workers_server(server_factory: Any) -> Server:
    server: Server = server_factory.start(args=("--workers", str(WORKERS)))
    deadline = time.monotonic() + FIND_TIMEOUT
    while len(workers_of(server)) < WORKERS:
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        time.sleep(0.1)
    return server


async def new_writer(server: Server, token: str) -> Writer:
    writer = Writer(server, token)
    await writer.connect(server)
    return writer


async def close_writer(writer: Writer) -> None:
    await writer.http.aclose()


async def close_subscriber(sub: Subscriber) -> None:
    await sub.ws.close()


async def test_writes_feeds_and_pages_through_both_workers(workers_server: Server) -> None:
    server = workers_server
    token = server.token("admin")

    async def writer(i: int) -> Writer:
        return await new_writer(server, token)

    async with one_per_worker(writer, close_writer) as writers:
        first = next(iter(writers.values()))
        since = (await first.post(CHECKPOINT, {"model": "Note"}))["checkpoint"]

        async def subscriber(i: int) -> Subscriber:
            return await subscribe(server, token, (TRANSPORT_WS, LEGACY_WS)[i % 2], since)

        async with one_per_worker(subscriber, close_subscriber) as feeds:
            per_writer = 25
            written: list[str] = []

            async def write(w: Writer, n: int) -> None:
                for k in range(n):
                    note_id = uid(f"w{w.pid}-{k}-")
                    data = {"id": note_id, "title": f"t{k}", "body": ""}
                    await w.post(CREATE_NOTE, {"data": data})
                    written.append(note_id)
                    # Read your own writes, on the worker that wrote.
                    assert (await w.post(NOTE, {"id": note_id}))["note"]["id"] == note_id

            total = per_writer * WORKERS
            received = await asyncio.gather(
                *(write(w, per_writer) for w in writers.values()),
                *(feed.changes(total) for feed in feeds.values()),
            )
            streams = [r for r in received if r is not None]

            # A changes pager with limit 7, each page through the other worker.
            paged: list[tuple[str, str]] = []
            cursor = since
            for page_writer in itertools.cycle(writers.values()):
                page = (
                    await page_writer.post(CHANGES, {"model": "Note", "since": cursor, "limit": 7})
                )["changes"]
                paged += [(c["modelId"], c["checkpoint"]) for c in page["changes"]]
                cursor = page["checkpoint"]
                if not page["hasMore"]:
                    break

    assert sorted(i for i, _ in paged) == sorted(written), "the pager missed or repeated"
    for stream in streams:
        assert stream == paged, "a feed's changes differ from the log's, or their order"

    metrics = await metrics_of(server)
    created = metrics.get(("graphql_repl_operations_total", "createNote", "ok"), 0)
    assert created == total, "the metrics do not count both workers' operations"


async def metrics_of(server: Server) -> dict[tuple[str, ...], float]:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{server.port}/metrics")).text
    found: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, sample.labels.get("field", ""), sample.labels.get("outcome", ""))
            found[key] = found.get(key, 0) + sample.value
    return found


async def test_sigterm_ends_the_subscriptions_on_both_workers(workers_server: Server) -> None:
    server = workers_server
    token = server.token("admin")
    since = (await (await new_writer(server, token)).post(CHECKPOINT, {"model": "Note"}))[
        "checkpoint"
    ]

    async def subscriber(i: int) -> Subscriber:
        return await subscribe(server, token, (TRANSPORT_WS, LEGACY_WS)[i % 2], since)

    async with one_per_worker(subscriber, close_subscriber) as feeds:
        server.process.send_signal(signal.SIGTERM)
        endings = await asyncio.gather(*(feed.ended() for feed in feeds.values()))
        try:
            code = await asyncio.to_thread(server.process.wait, EVENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit after SIGTERM:\n{server.log_text()[-3000:]}")
    for ending in endings:
        assert ending in ("complete", "close 1012"), endings
    assert code == 0, server.log_text()[-3000:]
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


async def test_a_worker_that_dies_is_replaced(workers_server: Server) -> None:
    server = workers_server
    killed = workers_of(server)[0]
    killed.kill()
    deadline = time.monotonic() + FIND_TIMEOUT
    while True:
        pids = {w.pid for w in workers_of(server) if w.status() != psutil.STATUS_ZOMBIE}
        if len(pids) == WORKERS and killed.pid not in pids:
            break
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        await asyncio.sleep(0.1)
    token = server.token("writer")
    writer = await new_writer(server, token)
    note_id = uid("after-")
    await writer.post(CREATE_NOTE, {"data": {"id": note_id, "title": "x", "body": ""}})
    await close_writer(writer)
    assert "starting another" in server.log_text()
    assert server.alive()
