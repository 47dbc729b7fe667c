"""Feed fan-out benchmark: many WebSocket subscribers, one steady writer, and a plain
`websockets` broadcast server as the reference, measured in the same run.

Starts `graphql-repl serve` on a temporary SQLite store, opens N subscribers (in separate
client processes, so the server's CPU is its own), writes notes over HTTP at a steady
rate, and prints deliveries/s, write->delivery latency (p50/p99) and the server's CPU
time per delivery. The reference row sends frames of the same shape, pre-encoded, with
`websockets.broadcast` at the same rate to the same clients: it is both the CPU reference
and the control row for the clients' own ceiling. Then it prints issue 13's targets as
ratios: CPU per delivery <= 4x the reference, everything delivered with p99 <= 100 ms,
and (``--idle N``) memory per idle subscription <= 20 KB.

    python bench/feed.py --subscribers 100,1000 --rate 20 --seconds 10
    python bench/feed.py --field streamNote --protocol graphql-ws
    python bench/feed.py --idle 10000 --subscribers 0
    python bench/feed.py --store 'mongodb://127.0.0.1:27017/?replicaSet=rs0'
    python bench/feed.py --profile /tmp/feed.raw   # py-spy over the measured window
    python bench/feed.py --workers 2   # also `serve --workers 2`, and its ratio to one

With ``--workers N`` each subscriber count gets one more row, ours with N worker
processes (the CPU is the supervisor's and every worker's), and the N : 1 ratio of
deliveries/s and of CPU per delivery.

With ``--store mongodb://...`` each run uses a database of its own on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
import websockets.sync.client

QUERIES = {
    "changeFeed": 'subscription { changeFeed(model: "Note") { modelId checkpoint data } }',
    "streamNote": "subscription { streamNote { documents { id body } checkpoint { seq } } }",
}
# The message types of each subprotocol: start an operation, a result, keep-alive.
PROTOCOLS = {
    "graphql-transport-ws": ("subscribe", "next"),
    "graphql-ws": ("start", "data"),
}
CPU_TARGET = 4.0  # CPU per delivery at most this many times the reference's
P99_TARGET_MS = 100.0
IDLE_TARGET_KB = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its running children (the workers of ``--workers``)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += cpu_seconds(int(child))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return total + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sent_times(field: str, payload: dict[str, Any]) -> list[float]:
    """The write times carried by one result (a note's body)."""
    data = payload["data"][field]
    if field == "changeFeed":
        return [float(data["data"]["body"])]
    return [float(d["body"]) for d in data["documents"]]


async def _subscribers(url, token, count, field, protocol, ready, stop, out) -> None:
    latencies: list[float] = []
    start_type, result_type = PROTOCOLS[protocol]
    query = QUERIES[field]

    async def one() -> None:
        async with websockets.connect(url, subprotocols=[protocol], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": start_type, "payload": {"query": query}}))
            ready.release()
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == result_type:
                    now = time.time()
                    latencies.extend(now - t for t in sent_times(field, msg["payload"]))
                elif msg["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.to_thread(stop.wait)  # a process's event: waited for off the loop
    await asyncio.sleep(1.0)  # the last deliveries
    for t in tasks:
        t.cancel()
    out.put(latencies)


def subscriber_process(*args: Any) -> None:
    asyncio.run(_subscribers(*args))


# The reference: a plain websockets server that answers the handshake of either
# subprotocol and broadcasts pre-encoded frames of the same shape at the same rate.
async def _reference(port: int, field: str, protocol: str, ready: Any) -> None:
    start_type, result_type = PROTOCOLS[protocol]
    subscribed: set[Any] = set()
    tick = asyncio.Event()

    async def handler(ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "connection_init":
                await ws.send('{"type":"connection_ack"}')
            elif msg["type"] == start_type:
                subscribed.add(ws)
            elif msg["type"] == "tick":  # from the bench's writer
                tick.set()
        subscribed.discard(ws)

    async with websockets.serve(
        handler, "127.0.0.1", port, subprotocols=list(PROTOCOLS), compression=None
    ):
        ready.set()
        n = 0
        while True:
            await tick.wait()
            tick.clear()
            n += 1
            body = repr(time.time())
            if field == "changeFeed":
                data: Any = {"modelId": f"n{n}", "checkpoint": str(n), "data": {"body": body}}
            else:
                data = {"documents": [{"id": f"n{n}", "body": body}], "checkpoint": {"seq": n}}
            frame = json.dumps(
                {"id": "1", "type": result_type, "payload": {"data": {field: data}}},
                separators=(",", ":"),
            )
            websockets.broadcast(subscribed, frame)


def reference_process(port: int, field: str, protocol: str, ready: Any) -> None:
    # Clients end by cancelling their connections (close code 1011): not worth a log line.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    asyncio.run(_reference(port, field, protocol, ready))


def store_url(spec: str, directory: str) -> str:
    if spec == "sqlite":
        return f"sqlite:///{directory}/feed.db"
    parts = urlsplit(spec)
    return urlunsplit(parts._replace(path=f"/feedbench_{uuid.uuid4().hex[:10]}"))


@contextmanager
def our_server(spec: str, workers: int = 1) -> Iterator[tuple[int, int, str]]:
    """(pid, port, admin token) of a `graphql-repl serve --workers N` on a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = store_url(spec, tmp)
        token = subprocess.run(
            ["graphql-repl", "token", "create", "--role", "admin", "--store", store],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        command = ["graphql-repl", "serve", "--store", store, "--port", str(port)]
        command += ["--workers", str(workers)]
        server = subprocess.Popen([*command, "--log-level", "warning"], stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            if workers > 1:
                time.sleep(1.0)  # every worker up, not just the first
            yield server.pid, port, token
        finally:
            server.terminate()
            server.wait(30)


@contextmanager
def reference_server(field: str, protocol: str) -> Iterator[tuple[int, int, str]]:
    ctx = mp.get_context("spawn")
    port, ready = free_port(), ctx.Event()
    proc = ctx.Process(target=reference_process, args=(port, field, protocol, ready))
    proc.start()
    try:
        ready.wait(60)
        assert proc.pid is not None
        yield proc.pid, port, ""
    finally:
        proc.kill()
        proc.join()


@contextmanager
def profiled(pid: int, path: str | None) -> Iterator[None]:
    spy = None
    if path:
        command = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "-o", path]
        spy = subprocess.Popen([*command, "--nonblocking"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its file and ends
            spy.wait(30)


class Writer:
    """Writes at a steady rate: notes over HTTP to our server, ticks to the reference."""

    def __init__(self, port: int, token: str, reference: bool) -> None:
        self.port, self.token, self.reference = port, token, reference

    def run(self, rate: float, seconds: float) -> tuple[int, float]:
        writes, start = 0, time.time()
        if self.reference:
            url = f"ws://127.0.0.1:{self.port}"
            with websockets.sync.client.connect(url, subprotocols=[*PROTOCOLS]) as ws:
                while time.time() < start + seconds:
                    ws.send('{"type":"tick"}')
                    writes += 1
                    self._pace(start, writes, rate)
            return writes, time.time() - start
        headers = {"Authorization": f"Bearer {self.token}"}
        base = f"http://127.0.0.1:{self.port}"
        with httpx.Client(base_url=base, headers=headers) as http:
            while time.time() < start + seconds:
                body = {
                    "query": "mutation($d: NoteInput!) { createNote(data: $d) { id } }",
                    "variables": {"d": {"title": "bench", "body": repr(time.time())}},
                }
                http.post("/graphql", json=body).raise_for_status()
                writes += 1
                self._pace(start, writes, rate)
        return writes, time.time() - start

    @staticmethod
    def _pace(start: float, writes: int, rate: float) -> None:
        delay = start + writes / rate - time.time()
        if delay > 0:
            time.sleep(delay)


def start_clients(port, token, subscribers, args, ctx):
    ready, stop, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    clients = args.clients
    per = [subscribers // clients + (i < subscribers % clients) for i in range(clients)]
    url = f"ws://127.0.0.1:{port}/graphql"
    procs = [
        ctx.Process(
            target=subscriber_process,
            args=(url, token, n, args.field, args.protocol, ready, stop, out),
        )
        for n in per
        if n
    ]
    for p in procs:
        p.start()
    for _ in range(subscribers):
        ready.acquire(timeout=120)
    return procs, stop, out


def run(
    subscribers: int, args: argparse.Namespace, reference: bool, workers: int = 1
) -> dict[str, float]:
    server = (
        reference_server(args.field, args.protocol)
        if reference
        else our_server(args.store, workers)
    )
    with server as (pid, port, token):
        ctx = mp.get_context("spawn")
        procs, stop, out = start_clients(port, token, subscribers, args, ctx)
        time.sleep(0.5)
        cpu0 = cpu_seconds(pid)
        profile = None if reference else args.profile
        with profiled(pid, profile):
            writes, elapsed = Writer(port, token, reference).run(args.rate, args.seconds)
            stop.set()
            latencies: list[float] = []
            for _ in procs:
                latencies += out.get(timeout=120)
            cpu = cpu_seconds(pid) - cpu0
        for p in procs:
            p.join()
    latencies.sort()
    received = len(latencies)
    return {
        "subscribers": subscribers,
        "writes": writes,
        "expected": writes * subscribers,
        "received": received,
        "offered_per_s": args.rate * subscribers,
        "deliveries_per_s": received / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (received - 1))] if latencies else float("nan"),
        "cpu_us": 1e6 * cpu / max(received, 1),
    }


def idle(count: int, args: argparse.Namespace, reference: bool) -> float:
    """KB of server memory per idle subscription."""
    server = reference_server(args.field, args.protocol) if reference else our_server(args.store)
    with server as (pid, port, token):
        ctx = mp.get_context("spawn")
        # One subscriber first: what every server holds once it serves one.
        procs, stop, out = start_clients(port, token, 1, args, ctx)
        time.sleep(1.0)
        before = rss_kb(pid)
        more, stop2, out2 = start_clients(port, token, count, args, ctx)
        time.sleep(2.0)
        after = rss_kb(pid)
        for s in (stop, stop2):
            s.set()
        for q, ps in ((out, procs), (out2, more)):
            for _ in ps:
                q.get(timeout=120)
            for p in ps:
                p.join()
    return (after - before) / count


def row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<10} {r['subscribers']:>6} {r['writes']:>7} {r['received']:>10} "
        f"{r['expected']:>8} {r['deliveries_per_s']:>9.0f} {r['p50_ms']:>8.1f} "
        f"{r['p99_ms']:>8.1f} {r['cpu_us']:>13.1f}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--rate", type=float, default=20.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--store", default="sqlite", help="sqlite, or a mongodb:// URL")
    parser.add_argument("--field", choices=sorted(QUERIES), default="changeFeed")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="graphql-transport-ws")
    parser.add_argument("--idle", type=int, default=0, help="idle subscriptions to weigh")
    parser.add_argument("--profile", help="py-spy raw profile of our server's measured window")
    parser.add_argument("--workers", type=int, default=1, help="also run serve --workers N")
    args = parser.parse_args()
    kind = "SQLite" if args.store == "sqlite" else "MongoDB"
    print(
        f"{args.field} fan-out over {args.protocol}, {args.rate:g} writes/s for "
        f"{args.seconds:g} s, {kind} store"
    )
    print(
        f"{'server':<10} {'subs':>6} {'writes':>7} {'delivered':>10} {'of':>8} {'deliv/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'cpu us/deliv':>13}  load average"
    )
    for n in [int(x) for x in args.subscribers.split(",") if int(x)]:
        ref = run(n, args, reference=True)
        print(row("websockets", ref), f" {load()}", flush=True)
        ours = run(n, args, reference=False)
        print(row("ours", ours), f" {load()}", flush=True)
        ratio = ours["cpu_us"] / ref["cpu_us"]
        print(
            f"  target CPU/delivery <= {CPU_TARGET:g}x the reference: {ratio:.1f}x "
            f"({verdict(ratio <= CPU_TARGET)}); capacity {1e6 / ours['cpu_us']:,.0f} "
            f"deliveries/s per core"
        )
        complete = ours["received"] >= ours["expected"]
        print(
            f"  target all {ours['offered_per_s']:,.0f}/s offered delivered, p99 <= "
            f"{P99_TARGET_MS:g} ms: {ours['received']}/{ours['expected']}, p99 "
            f"{ours['p99_ms']:.1f} ms ({verdict(complete and ours['p99_ms'] <= P99_TARGET_MS)}); "
            f"the clients' ceiling (reference) {ref['deliveries_per_s']:,.0f}/s, p99 "
            f"{ref['p99_ms']:.1f} ms",
            flush=True,
        )
        if args.workers > 1:
            many = run(n, args, reference=False, workers=args.workers)
            print(row(f"ours x{args.workers}", many), f" {load()}", flush=True)
            print(
                f"  {args.workers} workers : 1, deliveries/s "
                f"{many['deliveries_per_s'] / ours['deliveries_per_s']:.2f}x, CPU per "
                f"delivery {many['cpu_us'] / ours['cpu_us']:.2f}x, p99 {many['p99_ms']:.1f} "
                f"vs {ours['p99_ms']:.1f} ms",
                flush=True,
            )
    if args.idle:
        ref_kb = idle(args.idle, args, reference=True)
        ours_kb = idle(args.idle, args, reference=False)
        print(
            f"  target <= {IDLE_TARGET_KB:g} KB per idle subscription ({args.idle} open): "
            f"{ours_kb:.1f} KB ({verdict(ours_kb <= IDLE_TARGET_KB)}); plain websockets "
            f"{ref_kb:.1f} KB; load average {load()}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
