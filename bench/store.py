"""Throughput and memory of a store on the replication paths.

Measures, on one store backend (``--store``; the embedded SQLite store in a temp dir by
default):

1. bulk writes through ``LocalModel.bulk_update`` (the replication write path): N ``Note``
   documents of ~200 bytes of JSON sent as CREATE updates in batches, in docs/s; next to a
   reference line, plain ``sqlite3`` doing the equivalent insert (orjson encoding, sha256
   rev, one table, ``executemany``), and our ratio to it;
2. paging through ``changes`` with ``limit=5000``, in docs/s (with a plain sqlite3
   read-and-decode reference line);
3. the peak memory of ``replicate(source, target, keep_updates=False)`` between two stores,
   for several sizes, each in a fresh child process (peak RSS during replicate minus the
   RSS after imports), to show it does not grow with N; and its docs/s.

``--profile`` runs the bulk-update and changes paths once more under cProfile, in every
thread (the SQLite store does its work on worker threads), and prints the hot spots.

``--ids random`` uses uuid-like ids (what ``LocalModel.create`` makes) instead of ids in
insertion order; on SQLite that is the slow case, as every insert lands at a random place
in the (model, id) b-tree. The benchmark's own input documents are excluded from garbage
collection (``gc.freeze``) while it measures: they are the client's data, not the server's.

    python bench/store.py                                  # the figures
    python bench/store.py --ids random                     # uuid-like ids
    python bench/store.py --sizes 10000 --replicate-sizes 20000,50000
    python bench/store.py --skip-replicate --profile       # + cProfile of both paths
    python bench/store.py --store 'mongodb://localhost:27017'   # once that store exists

The reference lines are always plain sqlite3 in the work dir (the machine's yardstick);
a MongoDB run would want a plain pymongo ``insert_many`` / ``find`` reference beside them.
``bench/patch_experiment.py`` re-runs sections 1-2 with candidate optimisations applied.

This is a benchmark, not a test: it asserts nothing about speed, it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from graphql_repl import Repository, Settings, demo_registry
from graphql_repl.replication import ChangeType, LocalModel, Update, UpdateStatus, replicate

MODEL = "Note"
CHANGES_PAGE = 5000  # LocalModel's MAX_PAGE
TARGET_BULK = 40_000  # docs/s the issue asks of the bulk-update path
TARGET_CHANGES = 100_000  # docs/s the issue asks of changes paging

# -- documents --------------------------------------------------------------------------

WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa",
    "lambda", "sigma", "omega", "river", "stone", "cloud", "paper", "light",
]  # fmt: skip


# "sequential": ids sort in insertion order (note-00000001, ...); "random": 32 hex digits
# like the uuid4().hex ids LocalModel.create makes, so the id b-tree is written at random.
ID_STYLES = ("sequential", "random")
id_style = "sequential"


def note_id(i: int) -> str:
    if id_style == "random":
        return hashlib.md5(str(i).encode()).hexdigest()
    return f"note-{i:08d}"


def note(i: int, rng: random.Random) -> dict[str, Any]:
    """A Note of ~200 bytes of JSON."""
    tenant = f"tenant-{i % 16:02d}"
    return {
        "id": f"{tenant}:{note_id(i)}",  # a tenant's documents have ids in its id space
        "title": " ".join(rng.choice(WORDS) for _ in range(4)),
        "body": " ".join(rng.choice(WORDS) for _ in range(13)),
        "tags": rng.sample(WORDS[:8], 2),
        "views": rng.randrange(10_000),
        "tenantId": tenant,
    }


def notes(start: int, count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed * 1_000_003 + start)
    return [note(i, rng) for i in range(start, start + count)]


def creates(docs: list[dict[str, Any]]) -> list[Update]:
    return [Update(d["id"], ChangeType.CREATE, data=d) for d in docs]


# -- stores -----------------------------------------------------------------------------


class StoreFactory:
    """One store URL per named database of a run, from ``--store``.

    ``sqlite``: a file in the work dir. A URL containing ``{name}`` is formatted with the
    name. A ``mongodb://`` / ``mongodb+srv://`` URL gets a fresh database per name (the
    database path of the URL is replaced). Anything else is used as given (so only one
    database can be made from it).
    """

    def __init__(self, spec: str, workdir: str) -> None:
        self.spec = spec
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.used: list[str] = []

    @property
    def label(self) -> str:
        return "sqlite (file in a temp dir)" if self.spec == "sqlite" else self.spec

    def url(self, name: str) -> str:
        if self.spec == "sqlite":
            url = f"sqlite:///{os.path.join(self.workdir, name + '.db')}"
        elif "{name}" in self.spec:
            url = self.spec.format(name=f"{name}_{self.run_id}")
        elif self.spec.startswith(("mongodb://", "mongodb+srv://")):
            parts = urlsplit(self.spec)
            database = f"graphql_repl_bench_{self.run_id}_{name}".replace("-", "_")
            url = urlunsplit(parts._replace(path="/" + database))
        else:
            if self.used:
                raise SystemExit(
                    f"--store {self.spec!r} names one database; this run needs several"
                )
            url = self.spec
        self.used.append(url)
        return url

    def drop(self, url: str) -> None:
        """Free the space a database took (best effort)."""
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if path.startswith(self.workdir):
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.remove(path + suffix)
        # Other backends: the databases are named graphql_repl_bench_<run>_*; drop them
        # with the backend's own tools once its store exists.


def open_repo(url: str, chunk_size: int | None) -> Repository:
    settings = Settings(store=url)
    if chunk_size is not None:
        settings = Settings(store=url, replication_chunk_size=chunk_size)
    return Repository.from_settings(settings, demo_registry())


# -- measurements -----------------------------------------------------------------------


@dataclass
class Figure:
    docs: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else float("inf")


async def write_bulk(model: LocalModel, updates: list[Update], batch: int) -> Figure:
    gc.collect()
    statuses: Counter[UpdateStatus] = Counter()
    start = time.perf_counter()
    for i in range(0, len(updates), batch):
        result = await model.bulk_update(updates[i : i + batch])
        statuses.update(r.status for r in result.results)
    elapsed = time.perf_counter() - start
    if statuses != Counter({UpdateStatus.APPLIED: len(updates)}):
        raise SystemExit(f"bulk_update did not apply every document: {dict(statuses)}")
    return Figure(len(updates), elapsed)


async def page_changes(model: LocalModel, expected: int) -> Figure:
    gc.collect()
    start = time.perf_counter()
    since, total = None, 0
    while True:
        page = await model.changes(since, limit=CHANGES_PAGE)
        total += len(page.changes)
        since = page.checkpoint
        if not page.has_more:
            break
    elapsed = time.perf_counter() - start
    if total != expected:
        raise SystemExit(f"changes returned {total} documents, expected {expected}")
    return Figure(total, elapsed)


def reference_sqlite(path: str, docs: list[dict[str, Any]], batch: int) -> tuple[Figure, Figure]:
    """Plain sqlite3: the same documents, orjson-encoded (sorted keys) and sha256-hashed,
    inserted with executemany, one transaction per batch, WAL + synchronous=NORMAL like our
    store; then read back in pages of CHANGES_PAGE and decoded."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE docs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
            " rev TEXT NOT NULL, data TEXT NOT NULL)"
        )
        dumps, sha256, sort = orjson.dumps, hashlib.sha256, orjson.OPT_SORT_KEYS
        gc.collect()
        start = time.perf_counter()
        seq = 0
        for i in range(0, len(docs), batch):
            rows = []
            for d in docs[i : i + batch]:
                raw = dumps(d, option=sort)
                seq += 1
                rows.append((seq, d["id"], sha256(raw).hexdigest()[:32], raw.decode()))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO docs VALUES (?,?,?,?)", rows)
            conn.execute("COMMIT")
        write = Figure(len(docs), time.perf_counter() - start)

        gc.collect()
        start = time.perf_counter()
        last, total, loads = 0, 0, orjson.loads
        while True:
            rows = conn.execute(
                "SELECT seq, id, rev, data FROM docs WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, CHANGES_PAGE),
            ).fetchall()
            decoded = [(s, i, r, loads(d)) for s, i, r, d in rows]
            total += len(decoded)
            if len(rows) < CHANGES_PAGE:
                break
            last = rows[-1][0]
        read = Figure(total, time.perf_counter() - start)
    finally:
        conn.close()
    return write, read


async def bench_size(
    factory: StoreFactory, n: int, batch: int, chunk_size: int | None
) -> dict[str, Figure]:
    docs = notes(0, n)
    updates = creates(docs)
    # The inputs are the client's data, not the server's: keep the collector from walking
    # them on every full collection (with 100k inputs that alone costs ~30% of paging).
    gc.collect()
    gc.freeze()
    url = factory.url(f"bulk-{n}")
    try:
        async with open_repo(url, chunk_size) as repo:
            model = repo.model(MODEL)
            bulk = await write_bulk(model, updates, batch)
            changes = await page_changes(model, n)
    finally:
        gc.unfreeze()
        factory.drop(url)
    ref_path = os.path.join(factory.workdir, f"reference-{n}.db")
    ref_write, ref_read = reference_sqlite(ref_path, docs, batch)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.remove(ref_path + suffix)
    return {"bulk": bulk, "changes": changes, "ref_write": ref_write, "ref_read": ref_read}


# -- replicate memory (child processes) ------------------------------------------------


async def populate(url: str, n: int, batch: int, chunk_size: int | None) -> float:
    """Fill a store with n notes through bulk_update, generating them batch by batch."""
    start = time.perf_counter()
    async with open_repo(url, chunk_size) as repo:
        model = repo.model(MODEL)
        for i in range(0, n, batch):
            await model.bulk_update(creates(notes(i, min(batch, n - i))))
    return time.perf_counter() - start


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def hwm_kib() -> int | None:
    """VmHWM: the peak RSS of this process image (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so it measures from here on."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def maxrss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


class RssSampler:
    """An endpoint wrapper that samples RSS after every bulk_update replicate() makes."""

    def __init__(self, inner: LocalModel, total: int) -> None:
        self.inner = inner
        self.total = total
        self.done = 0
        self.samples: list[tuple[int, int]] = []  # (documents done, RSS KiB)
        self._next = 0.0

    async def checkpoint(self) -> str:
        return await self.inner.checkpoint()

    async def changes(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.changes(*args, **kwargs)

    async def bulk_update(self, updates: Any) -> Any:
        result = await self.inner.bulk_update(updates)
        self.done += len(updates)
        if self.done >= self._next * self.total:
            self.samples.append((self.done, rss_kib()))
            self._next += 0.25
        return result


async def replicate_child(
    source_url: str, target_url: str, total: int, chunk_size: int | None
) -> dict[str, Any]:
    """Runs in a fresh process: replicate source into an empty target, report peak RSS.

    ``ru_maxrss`` of a process started with fork/exec (subprocess, multiprocessing spawn)
    starts at the parent's RSS when it exec'd (Linux keeps the old image's high-water mark
    across exec), so it is reported but not relied on: the peak is VmHWM, reset to the
    current RSS just before replicate() where /proc/self/clear_refs allows it.
    """
    async with open_repo(source_url, chunk_size) as src, open_repo(target_url, chunk_size) as tgt:
        source = src.model(MODEL)
        target = RssSampler(tgt.model(MODEL), total)
        page = chunk_size or src.settings.replication_chunk_size
        gc.collect()
        baseline_maxrss, baseline_rss = maxrss_kib(), rss_kib()
        hwm_reset = reset_hwm()
        baseline_hwm = hwm_kib()
        start = time.perf_counter()
        result = await replicate(source, target, chunk_size=page, keep_updates=False)
        elapsed = time.perf_counter() - start
        maxrss, end_rss, hwm = maxrss_kib(), rss_kib(), hwm_kib()
    return {
        "seconds": elapsed,
        "counts": {s.value: c for s, c in result.counts.items()},
        "baseline_rss_kib": baseline_rss,
        "baseline_hwm_kib": baseline_hwm,
        "hwm_reset": hwm_reset,
        "peak_kib": hwm if hwm is not None else maxrss,
        "baseline_maxrss_kib": baseline_maxrss,
        "maxrss_kib": maxrss,
        "end_rss_kib": end_rss,
        "samples": target.samples,
    }


def run_replicate_child(
    source_url: str, target_url: str, total: int, chunk_size: int | None
) -> dict[str, Any]:
    script = os.path.abspath(__file__)
    cmd = [sys.executable, script, "--child-replicate", source_url, target_url, str(total)]
    if chunk_size is not None:
        cmd += ["--chunk-size", str(chunk_size)]
    threshold = gc.get_threshold()
    if threshold != (700, 10, 10):
        cmd += ["--gc-threshold", ",".join(map(str, threshold))]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"the replicate child failed (exit status {out.returncode})")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_replicate(
    factory: StoreFactory, n: int, batch: int, chunk_size: int | None
) -> dict[str, Any]:
    source, target = factory.url(f"repl-src-{n}"), factory.url(f"repl-tgt-{n}")
    try:
        populate_s = asyncio.run(populate(source, n, batch, chunk_size))
        result = run_replicate_child(source, target, n, chunk_size)
    finally:
        factory.drop(source)
        factory.drop(target)
    applied = result["counts"].get("APPLIED", 0)
    if applied != n:
        raise SystemExit(f"replicate applied {applied} of {n}: {result['counts']}")
    result["populate_seconds"] = populate_s
    result["docs"] = n
    return result


# -- profiling --------------------------------------------------------------------------


class ThreadProfiles:
    """cProfile in every thread that runs store work, plus the event-loop thread.

    A ``cProfile.Profile`` only sees the thread that enabled it, and the SQLite store runs
    its transactions on worker threads, so each worker call is wrapped to enable that
    thread's own profiler around it.
    """

    def __init__(self) -> None:
        self.main = cProfile.Profile()
        self.workers: dict[str, cProfile.Profile] = {}
        self._lock = threading.Lock()
        self.worker_seconds = 0.0

    def _profile(self) -> cProfile.Profile:
        name = threading.current_thread().name
        with self._lock:
            return self.workers.setdefault(name, cProfile.Profile())

    def wrap(self, fn: Callable[..., Any], *, timing_only: bool = False) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            if timing_only:
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.worker_seconds += time.perf_counter() - start
            prof = self._profile()
            prof.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                prof.disable()
                self.worker_seconds += time.perf_counter() - start

        return wrapped

    def stats(self, which: str) -> pstats.Stats:
        profiles = {"main": [self.main], "workers": list(self.workers.values())}.get(
            which, [self.main, *self.workers.values()]
        )
        stats = pstats.Stats(profiles[0])
        for p in profiles[1:]:
            stats.add(p)
        return stats


def instrument(repo: Repository, profiles: ThreadProfiles, timing_only: bool) -> None:
    store = repo.store
    call = getattr(store, "_call", None)
    if call is None:
        print("  (this store runs no worker threads; profiling the event-loop thread only)")
        return
    store._call = profiles.wrap(call, timing_only=timing_only)  # type: ignore[attr-defined]


def print_stats(title: str, stats: pstats.Stats, sort: str, top: int) -> None:
    buf = io.StringIO()
    stats.stream = buf  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = buf.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print(f"\n  -- {title} (by {sort}) --")
    for line in lines[start:]:
        if line.strip():
            print("  " + line)


async def profile_paths(
    factory: StoreFactory, n: int, batch: int, chunk_size: int | None, top: int, out: str | None
) -> None:
    updates = creates(notes(0, n))
    gc.collect()
    gc.freeze()  # as in bench_size: the inputs are not the server's objects
    for mode in ("timing", "profile"):
        url = factory.url(f"profile-{mode}-{n}")
        try:
            async with open_repo(url, chunk_size) as repo:
                model = repo.model(MODEL)
                for path in ("bulk", "changes"):
                    profiles = ThreadProfiles()
                    instrument(repo, profiles, timing_only=mode == "timing")
                    if mode == "profile":
                        profiles.main.enable()
                    if path == "bulk":
                        fig = await write_bulk(model, updates, batch)
                    else:
                        fig = await page_changes(model, n)
                    if mode == "profile":
                        profiles.main.disable()
                    with contextlib.suppress(AttributeError):
                        del repo.store._call  # type: ignore[attr-defined]
                    if mode == "timing":
                        share = profiles.worker_seconds / fig.seconds
                        print(
                            f"  {path:8s} {fig.rate:10,.0f} docs/s without profiler;"
                            f" store worker threads busy {share:.0%} of the wall time"
                        )
                        continue
                    print(f"\n  == {path}: {n:,} docs, {fig.rate:,.0f} docs/s under cProfile ==")
                    print_stats("event-loop thread", profiles.stats("main"), "tottime", top)
                    print_stats("store worker threads", profiles.stats("workers"), "tottime", top)
                    print_stats("all threads", profiles.stats("all"), "cumulative", top)
                    if out:
                        profiles.stats("all").dump_stats(os.path.join(out, f"{path}.pstats"))
        finally:
            factory.drop(url)


# -- CLI --------------------------------------------------------------------------------


def sizes(text: str) -> list[int]:
    try:
        values = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--store", default="sqlite", help="'sqlite' (temp-dir file, default) or a store URL"
    )
    p.add_argument("--sizes", type=sizes, default=[10_000, 100_000], help="bulk/changes sizes")
    p.add_argument(
        "--replicate-sizes", type=sizes, default=[50_000, 200_000], help="replicate memory sizes"
    )
    p.add_argument("--batch", type=int, default=500, help="updates per bulk_update call (500)")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="Settings.replication_chunk_size: docs per transaction in bulk_update and per"
        " page in replicate (default: the Settings default, 500)",
    )
    p.add_argument(
        "--ids",
        choices=ID_STYLES,
        default="sequential",
        help="document ids: 'sequential' (in insertion order) or 'random' (uuid-like)",
    )
    p.add_argument(
        "--gc-threshold",
        default=None,
        help="gc.set_threshold for the run, e.g. 50000,20,100 (default: Python's 700,10,10)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per size; the best is reported")
    p.add_argument("--workdir", default=None, help="where SQLite files go (default: a temp dir)")
    p.add_argument("--skip-bulk", action="store_true", help="skip the bulk/changes figures")
    p.add_argument(
        "--skip-replicate", action="store_true", help="skip the replicate memory figures"
    )
    p.add_argument(
        "--profile", action="store_true", help="also cProfile the bulk and changes paths"
    )
    p.add_argument("--profile-size", type=int, default=20_000, help="documents for --profile")
    p.add_argument("--profile-top", type=int, default=25, help="rows per profile table")
    p.add_argument("--profile-out", default=None, help="directory to write bulk/changes .pstats to")
    p.add_argument(
        "--child-replicate", nargs=3, metavar=("SOURCE", "TARGET", "N"), help=argparse.SUPPRESS
    )
    return p.parse_args(argv)


def ratio(ours: float, ref: float) -> str:
    return f"{ours / ref:.2f}x" if ref else "n/a"


def mib(kib: float) -> str:
    return f"{kib / 1024:7.1f} MiB"


def main(argv: list[str] | None = None) -> None:
    global id_style
    args = parse_args(argv)
    id_style = args.ids
    if args.gc_threshold:
        gc.set_threshold(*(int(v) for v in args.gc_threshold.split(",")))
    if args.child_replicate:
        source, target, total = args.child_replicate
        result = asyncio.run(replicate_child(source, target, int(total), args.chunk_size))
        print(json.dumps(result))
        return

    workdir = args.workdir or tempfile.mkdtemp(prefix="graphql-repl-bench-")
    os.makedirs(workdir, exist_ok=True)
    factory = StoreFactory(args.store, workdir)
    try:
        run(args, factory)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, factory: StoreFactory) -> None:
    avg = sum(len(orjson.dumps(d)) for d in notes(0, 1000)) / 1000
    print(f"store: {factory.label}   python {sys.version.split()[0]}   cpus: {os.cpu_count()}")
    print(
        f"documents: Note, {avg:.0f} bytes of JSON on average, {args.ids} ids;"
        f" batch {args.batch} per bulk_update call"
    )
    chunk = args.chunk_size or Settings().replication_chunk_size
    print(
        f"chunk (docs per transaction / replicate page): {chunk}; best of {args.repeat};"
        f" gc thresholds {gc.get_threshold()}"
    )

    if not args.skip_bulk:
        print("\n1-2. bulk_update writes and changes paging")
        header = f"{'N':>9} | {'path':<38} | {'docs/s':>10} | {'seconds':>8} | note"
        print(header)
        print("-" * len(header))
        for n in args.sizes:
            runs = [
                asyncio.run(bench_size(factory, n, args.batch, args.chunk_size))
                for _ in range(args.repeat)
            ]
            best = {k: max((r[k] for r in runs), key=lambda f: f.rate) for k in runs[0]}
            bulk, changes, ref_w, ref_r = (
                best["bulk"],
                best["changes"],
                best["ref_write"],
                best["ref_read"],
            )
            rows = [
                (
                    "LocalModel.bulk_update (CREATE)",
                    bulk,
                    f"target {TARGET_BULK:,}: {ratio(bulk.rate, TARGET_BULK)}",
                ),
                (
                    "ref: sqlite3 + orjson + sha256 insert",
                    ref_w,
                    f"ours/ref = {ratio(bulk.rate, ref_w.rate)}",
                ),
                (
                    f"LocalModel.changes (limit {CHANGES_PAGE})",
                    changes,
                    f"target {TARGET_CHANGES:,}: {ratio(changes.rate, TARGET_CHANGES)}",
                ),
                (
                    "ref: sqlite3 select + orjson.loads",
                    ref_r,
                    f"ours/ref = {ratio(changes.rate, ref_r.rate)}",
                ),
            ]
            for label, fig, note_ in rows:
                print(f"{n:>9,} | {label:<38} | {fig.rate:>10,.0f} | {fig.seconds:>8.2f} | {note_}")

    if not args.skip_replicate:
        print("\n3. replicate(source, target, keep_updates=False), fresh child process per size")
        print("   baseline = RSS after imports and opening both stores; peak = VmHWM reset at the")
        print("   baseline (peak RSS during replicate); delta = peak - baseline; ru_maxrss = the")
        print("   child's getrusage figure (includes the parent's RSS inherited across exec)")
        header = " | ".join(
            [f"{'N':>9}", f"{'docs/s':>9}", f"{'seconds':>8}"]
            + [f"{h:>11}" for h in ("baseline", "peak", "delta", "end RSS", "ru_maxrss")]
        )
        print(header)
        print("-" * len(header))
        results = []
        for n in args.replicate_sizes:
            r = bench_replicate(factory, n, args.batch, args.chunk_size)
            results.append(r)
            delta = r["peak_kib"] - r["baseline_rss_kib"]
            print(
                f"{n:>9,} | {n / r['seconds']:>9,.0f} | {r['seconds']:>8.2f} |"
                f" {mib(r['baseline_rss_kib'])} | {mib(r['peak_kib'])} | {mib(delta)} |"
                f" {mib(r['end_rss_kib'])} | {mib(r['maxrss_kib'])}"
            )
            trail = ", ".join(f"{done:,}: {mib(kib).strip()}" for done, kib in r["samples"])
            print(
                f"{'':>9}   RSS after docs {trail}; source filled in {r['populate_seconds']:.1f}s"
                + ("" if r["hwm_reset"] else " (VmHWM not reset: includes import peaks)")
            )
        if len(results) > 1:
            lo, hi = results[0], results[-1]
            d_lo = lo["peak_kib"] - lo["baseline_rss_kib"]
            d_hi = hi["peak_kib"] - hi["baseline_rss_kib"]
            print(
                f"   {hi['docs'] / lo['docs']:.1f}x the documents -> peak delta"
                f" {mib(d_lo).strip()} -> {mib(d_hi).strip()} ({d_hi - d_lo:+,} KiB)"
            )

    if args.profile:
        if args.profile_out:
            os.makedirs(args.profile_out, exist_ok=True)
        print(f"\n4. profile of the bulk_update and changes paths ({args.profile_size:,} docs)")
        asyncio.run(
            profile_paths(
                factory,
                args.profile_size,
                args.batch,
                args.chunk_size,
                args.profile_top,
                args.profile_out,
            )
        )


if __name__ == "__main__":
    main()
