"""Sequencing round trips per write on the MongoDB store, with 1 and 3 server processes.

Starts N ``graphql-repl serve`` processes on one new MongoDB database, writes notes through
all of them (``createNote``, round robin, several concurrent writers), and counts the
MongoDB commands every server process sends, with a ``pymongo.monitoring.CommandListener``
that a ``sitecustomize`` module registers in each of them. Commands are sorted into:

- ``stream``: opening, polling (``getMore``) and closing the change stream;
- ``sequencing``: writes that give versions their positions, raise the watermark, save the
  resume point or renew the sequencer's lease;
- ``write``: the document writes themselves (inserts and conditional replaces);
- ``read``: finds (documents, conflicts, tokens, the watermark);
- ``other``: the rest (handshakes, ``ping``, index creation).

Only commands sent while the writes run are counted (the listener buckets them by time).
It prints, per process count, the acknowledged writes and the commands per acknowledged
write in each class; ``stream + sequencing`` is the sequencing cost of a write.

    python bench/sequencer.py                          # 1 and 3 processes, on the emulator
    python bench/sequencer.py --processes 1,3 --writes 600 --writers 6
    python bench/sequencer.py --store 'mongodb://127.0.0.1:27017/?replicaSet=rs0'

Without ``--store`` (or ``MONGODB_URL``) it runs the mongo-java-server emulator from
``tests/mongo_server.py``, whose change stream answers at once when idle, so its stream
polls depend on the write rate; a real MongoDB waits server-side. To measure another
version of the package, put its source tree first on ``PYTHONPATH``: the servers run
``graphql_repl`` from there. This is a benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
BUCKET = 0.1  # seconds per bucket of the listener's counts
CREATE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
CLASSES = ("stream", "sequencing", "write", "read", "other")

# Runs in every server process (PYTHONPATH names its directory). It lowers PyMongo's
# minimum wire version for the emulator, as tests/mongo_server.py does for test servers.
SITECUSTOMIZE = """
import atexit, json, os, threading, time

try:
    import pymongo.common as _common
    from pymongo import monitoring as _monitoring
except ImportError:
    _monitoring = None
else:
    _common.MIN_SUPPORTED_WIRE_VERSION = min(_common.MIN_SUPPORTED_WIRE_VERSION, 8)

_OUT = os.environ.get("GRAPHQL_REPL_BENCH_COUNTS")
_BUCKET = float(os.environ.get("GRAPHQL_REPL_BENCH_BUCKET", "0.1"))
_SEQUENCER_IDS = ("watermark", "sequencer", "\\x00sequencer")


def _kind(event, streams):
    name, command = event.command_name, event.command
    if name == "aggregate" and any("$changeStream" in s for s in command.get("pipeline", [])):
        return "stream"
    if name == "getMore" and command.get("getMore") in streams:
        return "stream"
    if name == "killCursors" and set(command.get("cursors", [])) & streams:
        return "stream"
    if name == "update":
        updates = command.get("updates", [])
        for update in updates:
            u, q = update.get("u"), update.get("q", {})
            if q.get("_id") in _SEQUENCER_IDS:
                return "sequencing"
            if isinstance(u, dict) and "seq" in u.get("$set", {}):
                return "sequencing"
        return "write"
    if name == "insert":
        return "write"
    if name == "find":
        return "read"
    return "other"


if _monitoring is not None and _OUT:

    class _Listener(_monitoring.CommandListener):
        def __init__(self):
            self.lock = threading.Lock()
            self.counts = {}
            self.streams = set()
            self.opening = set()

        def started(self, event):
            kind = _kind(event, self.streams)
            if kind == "stream" and event.command_name == "aggregate":
                self.opening.add(event.request_id)
            bucket = str(int(time.time() / _BUCKET))
            with self.lock:
                per = self.counts.setdefault(bucket, {})
                per[kind] = per.get(kind, 0) + 1

        def succeeded(self, event):
            if event.request_id in self.opening:
                self.opening.discard(event.request_id)
                self.streams.add(event.reply.get("cursor", {}).get("id"))

        def failed(self, event):
            self.opening.discard(event.request_id)

    _listener = _Listener()
    _monitoring.register(_listener)

    @atexit.register
    def _dump():
        with open(_OUT, "w") as out:
            json.dump(_listener.counts, out)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    """``graphql-repl`` run by this interpreter, so that PYTHONPATH picks the package."""
    return [sys.executable, "-c", "from graphql_repl.cli import main; main()", *args]


@contextlib.contextmanager
def mongodb(spec: str | None) -> Iterator[str]:
    """The MongoDB to use: ``spec``, else ``$MONGODB_URL``, else an emulator."""
    url = spec or os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import mongo_server

    with mongo_server.emulator() as emulated:
        yield emulated


def run(base_url: str, processes: int, writes: int, writers: int, work: Path) -> dict[str, float]:
    store = urlunsplit(urlsplit(base_url)._replace(path=f"/seqbench_{uuid.uuid4().hex[:10]}"))
    site = work / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    # Run from the work directory: in the checkout, ``python -c`` would import the package
    # from the current directory before PYTHONPATH.
    token = subprocess.run(
        cli("token", "create", "--role", "admin", "--store", store),
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    ).stdout.strip()
    servers: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for i in range(processes):
            port, counts = free_port(), work / f"counts-{processes}-{i}.json"
            process = subprocess.Popen(
                cli("serve", "--store", store, "--port", str(port), "--log-level", "warning"),
                env={
                    **env,
                    "GRAPHQL_REPL_BENCH_COUNTS": str(counts),
                    "GRAPHQL_REPL_BENCH_BUCKET": str(BUCKET),
                },
                stderr=subprocess.DEVNULL,
                cwd=work,
            )
            servers.append((process, f"http://127.0.0.1:{port}", counts))
        for process, base, _ in servers:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                if process.poll() is not None:
                    raise SystemExit(f"a server exited with {process.returncode}")
                time.sleep(0.1)
        bases = [base for _, base, _ in servers]
        # Warm up: a write through every server starts its sequencer.
        asyncio.run(_write(bases, token, processes * 3, max(writers, processes)))
        time.sleep(1.0)
        started = time.time()
        acknowledged = asyncio.run(_write(bases, token, writes, writers))
        ended = time.time()
    finally:
        for process, _, _ in servers:
            process.terminate()
        for process, _, _ in servers:
            process.wait(30)
    totals: Counter[str] = Counter()
    for _, _, counts in servers:
        for bucket, per in json.loads(counts.read_text()).items():
            if started <= (int(bucket) + 0.5) * BUCKET <= ended:
                totals.update(per)
    result: dict[str, float] = {"acknowledged": acknowledged, "seconds": ended - started}
    for kind in CLASSES:
        result[kind] = totals[kind] / max(acknowledged, 1)
    return result


async def _write(bases: list[str], token: str, writes: int, writers: int) -> int:
    """Write ``writes`` notes through the servers (writer i uses server i mod N); returns
    how many were acknowledged."""
    headers = {"Authorization": f"Bearer {token}"}
    todo = iter(range(writes))
    done = 0

    async def writer(base: str) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for n in todo:
                data = {"title": f"bench {n}", "body": "x" * 100}
                reply = await http.post(
                    "/graphql", json={"query": CREATE, "variables": {"d": data}}
                )
                if reply.status_code == 200 and not reply.json().get("errors"):
                    done += 1

    await asyncio.gather(*(writer(bases[i % len(bases)]) for i in range(writers)))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", default="1,3", help="server process counts to compare")
    parser.add_argument("--writes", type=int, default=600)
    parser.add_argument("--writers", type=int, default=6, help="concurrent HTTP writers")
    parser.add_argument("--store", help="a mongodb:// URL (default: MONGODB_URL, else emulator)")
    args = parser.parse_args()
    print(f"MongoDB commands per acknowledged write ({args.writes} writes, {args.writers} writers)")
    print(
        f"{'procs':>5} {'acked':>6} {'writes/s':>9} "
        + " ".join(f"{k:>10}" for k in CLASSES)
        + f" {'stream+seq':>10}"
    )
    with mongodb(args.store) as url, tempfile.TemporaryDirectory() as tmp:
        where = subprocess.run(
            [sys.executable, "-c", "import graphql_repl; print(graphql_repl.__file__)"],
            capture_output=True,
            text=True,
            cwd=tmp,
        ).stdout.strip()
        print(f"(the servers run {Path(where).parent})")
        for n in [int(x) for x in args.processes.split(",")]:
            r = run(url, n, args.writes, args.writers, Path(tmp))
            print(
                f"{n:>5} {int(r['acknowledged']):>6} {r['acknowledged'] / r['seconds']:>9.1f} "
                + " ".join(f"{r[k]:>10.2f}" for k in CLASSES)
                + f" {r['stream'] + r['sequencing']:>10.2f}",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
