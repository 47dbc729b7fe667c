"""The SQLite store: its change log, threads and transactions.

One table holds every model's documents; each row is a document (or a tombstone) together
with its latest change. A write reserves its change-log positions from a counter row inside
the same ``BEGIN IMMEDIATE`` transaction; SQLite admits one writer at a time (across
processes too), so positions are assigned in commit order and a reader that sees position
``n`` has already been able to see every position below it. That is what makes paging
``changes(since)`` safe against concurrent writers in any process.

Blocking sqlite3 calls run on worker threads: one writer thread with its own connection,
and a few reader threads (WAL lets them read while a write is in progress).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from ...errors import StoreError
from ...filters import Filter
from ..base import Decide, LogPage, LogRead, Store, StoredConflict, StoredDoc, WriteBatch
from ..tokens import TokenStore
from ..url import StoreURL
from .errors import driver_errors
from .filters import compile_filter
from .schema import init_schema
from .tokens import SQLiteTokens

T = TypeVar("T")

# Far below SQLite's limit on bound parameters, and a sensible transaction size.
ID_CHUNK = 500
COLUMNS = "id, seq, rev, prev, data, clock, ancestors"

_loads = orjson.loads


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SQLiteStore(Store):
    """One database file (or one shared in-memory database) holds every model:
    ``documents`` (one row per document, content or tombstone plus its latest change),
    ``conflicts``, ``tokens`` and ``meta`` (store identity, log counter, schema version)."""

    #: How often ``watch`` looks for writes made by other processes; writes made through
    #: this store object wake it at once.
    poll_interval = 0.05

    def __init__(self, url: StoreURL, *, readers: int = 2, busy_timeout: float = 30.0) -> None:
        if url.scheme != "sqlite" or url.host or not url.database:
            raise ValueError(f"not a SQLite URL: {str(url)!r} (expected sqlite:///path/to.db)")
        path = url.database
        self.memory = path == ":memory:"
        # One shared in-memory database for every connection of this store.
        self._target = (
            f"file:graphql-repl-{uuid.uuid4().hex}?mode=memory&cache=shared"
            if self.memory
            else path
        )
        self._readers = 1 if self.memory else readers
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self.store_id = ""
        self._written: dict[str, asyncio.Event] = {}
        self._tokens = SQLiteTokens(self._read, self._write)

    @property
    def tokens(self) -> TokenStore:
        return self._tokens

    # -- connections and threads ------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._target,
                uri=self.memory,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=False,  # used by one thread; closed by whoever closes the store
                timeout=self._busy_timeout,
            )
            if not self.memory:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # Fewer, larger WAL checkpoints: bulk writes of random ids touch many pages.
                conn.execute("PRAGMA wal_autocheckpoint=10000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _run(
        self, executor: ThreadPoolExecutor | None, fn: Callable[[sqlite3.Connection], T]
    ) -> T:
        if executor is None:
            raise StoreError("the store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # Connecting is a driver call too: a file that is not a database fails here.
        with driver_errors():
            return fn(self._connect())

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._reader, lambda c: _in_transaction(c, "BEGIN", fn))

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._writer, lambda c: _in_transaction(c, "BEGIN IMMEDIATE", fn))

    async def open(self) -> None:
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader = (
            self._writer
            if self.memory
            else ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")
        )
        self.store_id = await self._write(init_schema)

    async def close(self) -> None:
        for executor in {self._writer, self._reader}:
            if executor is not None:
                executor.shutdown(wait=True)
        self._writer = self._reader = None
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # -- reads ------------------------------------------------------------------------

    async def checkpoint(self, model: str) -> str:
        return self._encode(await self._read(_head))

    async def get(self, model: str, ids: Sequence[str]) -> dict[str, StoredDoc]:
        def run(conn: sqlite3.Connection) -> dict[str, StoredDoc]:
            return {d.model_id: d for d in self._select_ids(conn, model, ids, bases=False)}

        return await self._read(run)

    async def find(
        self, model: str, where: Filter | None, limit: int, offset: int = 0
    ) -> list[StoredDoc]:
        clause, params = compile_filter(where, "data")

        def run(conn: sqlite3.Connection) -> list[StoredDoc]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM documents WHERE model = ? AND rev IS NOT NULL AND {clause}"
                " ORDER BY id LIMIT ? OFFSET ?",
                (model, *params, limit, offset),
            )
            return [self._doc(row) for row in rows]

        return await self._read(run)

    async def _read_log(self, model: str, read: LogRead) -> LogPage:
        clause, params = compile_filter(read.where, "data")

        def run(conn: sqlite3.Connection) -> LogPage:
            # One read transaction: the head and the records are of the same moment.
            span = self._span(read, _head(conn))
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM documents"
                f" WHERE model = ? AND seq > ? AND seq <= ? AND {clause} ORDER BY seq LIMIT ?",
                (model, span.start, span.end, *params, read.limit + 1),
            ).fetchall()
            return self._page(read, span, [self._doc(row) for row in rows], [r[1] for r in rows])

        return await self._read(run)

    async def conflicts(self, model: str, where: Filter | None = None) -> list[StoredConflict]:
        clause, params = compile_filter(where, "match_data")

        def run(conn: sqlite3.Connection) -> list[StoredConflict]:
            rows = conn.execute(
                f"SELECT body FROM conflicts WHERE model = ? AND {clause} ORDER BY model_id",
                (model, *params),
            )
            return [StoredConflict.from_body(_loads(body)) for (body,) in rows]

        return await self._read(run)

    def _select_ids(
        self, conn: sqlite3.Connection, model: str, ids: Sequence[str], bases: bool
    ) -> Iterator[StoredDoc]:
        columns = COLUMNS + (", bases" if bases else "")
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT {columns} FROM documents WHERE model = ? AND id IN ({marks})",
                (model, *chunk),
            )
            for row in rows:
                yield self._doc(row)

    def _doc(self, row: tuple[Any, ...]) -> StoredDoc:
        return StoredDoc(
            model_id=row[0],
            checkpoint=self._encode(row[1]),
            rev=row[2],
            prev=row[3],
            data=_loads(row[4]),
            clock=_loads(row[5]),
            ancestors=_loads(row[6]),
            bases=_loads(row[7]) if len(row) > 7 else {},
        )

    # -- writes -----------------------------------------------------------------------

    async def transact(
        self, model: str, ids: Sequence[str], decide: Decide[T]
    ) -> tuple[list[StoredDoc], T]:
        def run(conn: sqlite3.Connection) -> tuple[list[StoredDoc], T]:
            current = {d.model_id: d for d in self._select_ids(conn, model, ids, bases=True)}
            pending = _select_conflicts(conn, model, ids)
            batch, result = decide(current, pending)
            self._apply(conn, model, batch)
            return batch.docs, result

        out: tuple[list[StoredDoc], T] = await self._write(run)
        if out[0]:
            event = self._written.pop(model, None)
            if event is not None:
                event.set()
        return out

    def write_signal(self, model: str) -> asyncio.Event:
        return self._written.setdefault(model, asyncio.Event())

    def _apply(self, conn: sqlite3.Connection, model: str, batch: WriteBatch) -> None:
        if batch.docs:
            (last,) = conn.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'seq' RETURNING value",
                (len(batch.docs),),
            ).fetchone()
            first = last - len(batch.docs) + 1
            rows = []
            for seq, doc in enumerate(batch.docs, first):
                doc.checkpoint = self._encode(seq)
                rows.append(
                    (
                        model,
                        doc.model_id,
                        seq,
                        doc.rev,
                        doc.prev,
                        _dumps(doc.data),
                        _dumps(doc.clock),
                        _dumps(doc.ancestors) if doc.ancestors else "[]",
                        _dumps(doc.bases) if doc.bases else "{}",
                    )
                )
            conn.executemany(
                "INSERT OR REPLACE INTO documents"
                " (model, id, seq, rev, prev, data, clock, ancestors, bases)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
        if batch.settled:
            conn.executemany(
                "DELETE FROM conflicts WHERE model = ? AND model_id = ?",
                [(model, model_id) for model_id in batch.settled],
            )
        if batch.conflicts:
            conn.executemany(
                "INSERT OR REPLACE INTO conflicts VALUES (?,?,?,?)",
                [
                    (model, c.model_id, _dumps(c.matched), _dumps(c.to_body()))
                    for c in batch.conflicts
                ],
            )


def _select_conflicts(
    conn: sqlite3.Connection, model: str, ids: Sequence[str]
) -> dict[str, StoredConflict]:
    out: dict[str, StoredConflict] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for (body,) in conn.execute(
            f"SELECT body FROM conflicts WHERE model = ? AND model_id IN ({marks})", (model, *chunk)
        ):
            conflict = StoredConflict.from_body(_loads(body))
            out[conflict.model_id] = conflict
    return out


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), ID_CHUNK):
        yield ids[i : i + ID_CHUNK]


def _head(conn: sqlite3.Connection) -> int:
    (value,) = conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    return int(value)


def _in_transaction(
    conn: sqlite3.Connection, begin: str, fn: Callable[[sqlite3.Connection], T]
) -> T:
    conn.execute(begin)
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
