"""HTTP writes with ``serve --workers 1`` and ``--workers N``, in one run.

Starts `graphql-repl serve` on a fresh SQLite store (or a database of its own on
``--store mongodb://...``) once per worker count, and writes notes over HTTP from
``--clients`` client processes, each with its own keep-alive connection (so the kernel
spreads them over the workers), for ``--seconds``. Two workloads: ``createNote`` (one
document a request: the GraphQL layer's cost dominates) and ``bulkUpdate`` of ``--batch``
documents (the store's share grows). It prints docs/s, the servers' CPU seconds per 1,000
documents (the supervisor and every worker), and the ratio of N workers to one.

    python bench/workers.py                       # 1 and 2 workers, 4 clients, 10 s each
    python bench/workers.py --workers 1,2,4 --clients 8 --seconds 20

The clients share the machine with the servers: on 2 cores, 2 workers cannot double the
rate, and the ratio says how much of the second core the server got. This is a benchmark,
not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

CREATE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
BULK = """mutation($u: [UpdateInput!]!) {
  bulkUpdate(model: "Note", updates: $u) { checkpoint }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its children that are still running."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def store_url(spec: str, directory: str) -> str:
    if spec == "sqlite":
        return f"sqlite:///{directory}/workers.db"
    parts = urlsplit(spec)
    return urlunsplit(parts._replace(path=f"/workersbench_{uuid.uuid4().hex[:10]}"))


@contextmanager
def server(spec: str, workers: int) -> Iterator[tuple[int, int, str]]:
    """(pid, port, admin token) of `graphql-repl serve --workers N` on a fresh store."""
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
        command += ["--workers", str(workers), "--log-level", "warning"]
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            time.sleep(1.0)  # every worker up, not just the first
            yield process.pid, port, token
        finally:
            process.terminate()
            process.wait(60)


def client(port: int, token: str, batch: int, until: float, out: Any) -> None:
    """Writes until ``until``; puts the number of documents written."""
    headers = {"Authorization": f"Bearer {token}"}
    written = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
        while time.time() < until:
            if batch == 1:
                body = {"query": CREATE, "variables": {"d": {"title": "bench", "body": "x"}}}
            else:
                updates = [
                    {
                        "modelId": uuid.uuid4().hex,
                        "type": "CREATE",
                        "data": {"title": "bench", "body": "x" * 150},
                    }
                    for _ in range(batch)
                ]
                body = {"query": BULK, "variables": {"u": updates}}
            response = http.post("/graphql", json=body)
            response.raise_for_status()
            assert "errors" not in response.json(), response.text[:500]
            written += batch
    out.put(written)


def measure(args: argparse.Namespace, workers: int, batch: int) -> tuple[float, float]:
    """(docs/s, server CPU seconds per 1,000 docs) with ``workers`` workers."""
    ctx = mp.get_context("spawn")
    with server(args.store, workers) as (pid, port, token):
        out = ctx.Queue()
        start = time.time()
        until = start + args.seconds
        cpu0 = cpu_seconds(pid)
        procs = [
            ctx.Process(target=client, args=(port, token, batch, until, out))
            for _ in range(args.clients)
        ]
        for p in procs:
            p.start()
        docs = sum(out.get(timeout=args.seconds + 120) for _ in procs)
        elapsed = time.time() - start
        cpu = cpu_seconds(pid) - cpu0
        for p in procs:
            p.join()
    return docs / elapsed, cpu / docs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--batch", type=int, default=100, help="bulkUpdate size (default 100)")
    parser.add_argument("--store", default="sqlite", help="sqlite, or a mongodb:// URL")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"{os.cpu_count()} cores, {args.clients} clients, {args.seconds:g} s each")
    for name, batch in (("createNote", 1), (f"bulkUpdate x{args.batch}", args.batch)):
        base = None
        for workers in counts:
            rate, cpu = measure(args, workers, batch)
            base = base or rate
            print(
                f"{name:>18}  workers={workers}  {rate:9.0f} docs/s  "
                f"{cpu:6.3f} CPU s per 1k docs  x{rate / base:.2f} of workers={counts[0]}"
            )


if __name__ == "__main__":
    main()
