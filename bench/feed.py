"""changeFeed fan-out benchmark: many WebSocket subscribers, one steady writer.

Starts `graphql-repl serve` on a temporary SQLite store, opens N subscribers speaking
graphql-transport-ws (in separate client processes, so the server's CPU is its own), writes
notes over HTTP at a steady rate, and prints deliveries/s, write->delivery latency
(p50/p99) and the server's CPU time per delivery.

    python bench/feed.py --subscribers 100,1000 --rate 40 --seconds 10
    python bench/feed.py --store 'mongodb://127.0.0.1:27017/?replicaSet=rs0'

With ``--store mongodb://...`` each run uses a database of its own on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets

SUBSCRIPTION = 'subscription { changeFeed(model: "Note") { modelId checkpoint data } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _subscribers(url: str, token: str, count: int, ready, stop, out) -> None:
    latencies: list[float] = []
    received = 0

    async def one() -> None:
        nonlocal received
        async with websockets.connect(
            url, subprotocols=["graphql-transport-ws"], max_size=None
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
            )
            ready.release()
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "next":
                    received += 1
                    sent = float(msg["payload"]["data"]["changeFeed"]["data"]["body"])
                    latencies.append(time.time() - sent)
                elif msg["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.to_thread(stop.wait)  # a process's event: waited for off the loop
    await asyncio.sleep(1.0)  # the last deliveries
    for t in tasks:
        t.cancel()
    out.put((received, latencies))


def subscriber_process(url: str, token: str, count: int, ready, stop, out) -> None:
    asyncio.run(_subscribers(url, token, count, ready, stop, out))


def store_url(spec: str, directory: str) -> str:
    if spec == "sqlite":
        return f"sqlite:///{directory}/feed.db"
    parts = urlsplit(spec)
    return urlunsplit(parts._replace(path=f"/feedbench_{uuid.uuid4().hex[:10]}"))


def run(subscribers: int, rate: float, seconds: float, clients: int, spec: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = store_url(spec, tmp)
        token = subprocess.run(
            ["graphql-repl", "token", "create", "--role", "admin", "--store", store],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        server = subprocess.Popen(
            [
                "graphql-repl",
                "serve",
                "--store",
                store,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            ctx = mp.get_context("spawn")
            ready, stop, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
            per = [subscribers // clients + (i < subscribers % clients) for i in range(clients)]
            procs = [
                ctx.Process(
                    target=subscriber_process,
                    args=(f"ws://127.0.0.1:{port}/graphql", token, n, ready, stop, out),
                )
                for n in per
                if n
            ]
            for p in procs:
                p.start()
            for _ in range(subscribers):
                ready.acquire(timeout=60)
            time.sleep(0.5)
            cpu0 = cpu_seconds(server.pid)
            headers = {"Authorization": f"Bearer {token}"}
            writes = 0
            start = time.time()
            with httpx.Client(base_url=base, headers=headers) as http:
                while time.time() < start + seconds:
                    body = {
                        "query": "mutation($d: NoteInput!) { createNote(data: $d) { id } }",
                        "variables": {"d": {"title": "bench", "body": repr(time.time())}},
                    }
                    http.post("/graphql", json=body).raise_for_status()
                    writes += 1
                    delay = start + writes / rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
            elapsed = time.time() - start
            stop.set()
            received, latencies = 0, []
            for _ in procs:
                r, lat = out.get(timeout=120)
                received += r
                latencies += lat
            cpu = cpu_seconds(server.pid) - cpu0
            for p in procs:
                p.join()
        finally:
            server.terminate()
            server.wait(30)
    latencies.sort()
    return {
        "subscribers": subscribers,
        "writes": writes,
        "expected": writes * subscribers,
        "received": received,
        "deliveries_per_s": received / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "server_cpu_us_per_delivery": 1e6 * cpu / max(received, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--rate", type=float, default=40.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--store", default="sqlite", help="sqlite, or a mongodb:// URL")
    args = parser.parse_args()
    kind = "SQLite" if args.store == "sqlite" else "MongoDB"
    print(f"changeFeed fan-out, {args.rate:g} writes/s for {args.seconds:g} s, {kind} store")
    print(
        f"{'subs':>6} {'writes':>7} {'delivered':>10} {'of':>8} {'deliv/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'cpu us/deliv':>13}"
    )
    for n in [int(x) for x in args.subscribers.split(",")]:
        r = run(n, args.rate, args.seconds, args.clients, args.store)
        print(
            f"{r['subscribers']:>6} {r['writes']:>7} {r['received']:>10} {r['expected']:>8} "
            f"{r['deliveries_per_s']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['server_cpu_us_per_delivery']:>13.1f}"
        )
        print(
            f"       vs 30,000 deliveries/s target: {r['deliveries_per_s'] / 30000:.2f}x; "
            f"vs Strawberry-only reference 9,300/s: {r['deliveries_per_s'] / 9300:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
