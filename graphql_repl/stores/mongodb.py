"""The MongoDB store (``mongodb://...``, ``mongodb+srv://...``), on PyMongo's async API.

PyMongo's ``AsyncMongoClient`` is the official successor of Motor (end of life May 2026);
this module uses it directly.

**Why the change log is correct without multi-document transactions.** A counter taken
before a write and stored with it leaves holes: writer A takes position 5, writer B takes 6
and commits first, a reader pages up to 6 and then A commits 5 behind it. So positions are
not taken by writers. A write stores its document with ``seq: null``; a *sequencer* reads
the collection's change stream, which delivers committed writes in commit order (the oplog
order of a replica set), and gives each new version the position of its change event (the
event's cluster time, ``(seconds << 32) | increment``, unique and increasing along the
stream), then raises the log's *watermark* to that position. Readers read only up to the
watermark. Every event at or below the watermark has been sequenced, and any version not
yet sequenced will get a position above it, so a reader never moves past a write it has not
seen. Positions come from the events themselves, so every server process can run a
sequencer on the same collection: they assign the same positions (conditionally, on the
document's version), and the watermark only moves forward (``$max``).

Checkpoints are positions in this store's own log (each document keeps the position of its
latest version), not in the oplog, so they never expire. The oplog matters only to the
sequencer: when it resumes after the oplog has moved past its resume point (the server was
down a long time), it sequences every version still without a position above the watermark,
so no reader misses them.

Writes are optimistic: one conditional replace per document on the version it was decided
from (``ver``); a document changed meanwhile is read again and decided again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..errors import ReplError, StoreError
from ..filters import And, Condition, Filter, Or
from .base import (
    Decide,
    LogPage,
    LogRead,
    Store,
    StoredConflict,
    StoredDoc,
    WriteBatch,
)
from .tokens import TokenRecord, TokenStore

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
DEFAULT_DATABASE = "graphql_repl"
# Conditional writes retried this many times when other writers keep changing the documents.
MAX_WRITE_ATTEMPTS = 20


def _key(model: str, model_id: str) -> str:
    return f"{model}\x00{model_id}"


def _encode_record(model: str, doc: StoredDoc, ver: str) -> Any:
    """A document's stored form, as BSON (raising here for content BSON cannot hold)."""
    from bson import encode
    from bson.raw_bson import RawBSONDocument

    try:
        return RawBSONDocument(
            encode(
                {
                    "_id": _key(model, doc.model_id),
                    "model": model,
                    "id": doc.model_id,
                    "ver": ver,
                    "seq": None,
                    "rev": doc.rev,
                    "prev": doc.prev,
                    "data": doc.data,
                    "clock": doc.clock,
                    "ancestors": doc.ancestors,
                    "bases": doc.bases,
                }
            )
        )
    except Exception as exc:  # bson.errors.InvalidDocument and kin
        raise StoreError(f"{model} {doc.model_id!r} cannot be stored: {exc}") from None


def position(cluster_time: Any) -> int:
    """A change event's cluster time (a BSON Timestamp) as a log position."""
    return (int(cluster_time.time) << 32) | int(cluster_time.inc)


class MongoStore(Store):
    """One database (the URL's path, default ``graphql_repl``) holds every model:
    ``documents`` (one per document: content or tombstone plus its latest change),
    ``conflicts``, ``tokens`` and ``meta`` (store identity, watermark, sequencer state)."""

    #: Longest wait of a write for the sequencer to give it its position.
    sequencing_timeout = 30.0
    #: Pause between change-stream polls when idle (the emulator has no server-side wait).
    idle_poll = 0.02
    idle_poll_max = 0.25

    def __init__(self, url: str) -> None:
        from pymongo.uri_parser import parse_uri

        try:
            parsed = parse_uri(url)
        except Exception as exc:  # the parser's own errors name the problem
            raise ValueError(f"Invalid MongoDB URL: {exc}") from None
        self.url = url
        self.database_name = parsed.get("database") or DEFAULT_DATABASE
        self.store_id = ""
        self._client: Any = None
        self._db: Any = None
        self._sequencer: asyncio.Task[None] | None = None
        self._advanced = asyncio.Event()
        self._sequencer_lock = asyncio.Lock()
        # Set by this process's writes, so the sequencer looks at once rather than after
        # its idle pause.
        self._kick = asyncio.Event()
        # Positions the sequencer has yet to report, by (key, ver) of a version written here.
        self._waiting: dict[tuple[str, str], asyncio.Future[int]] = {}
        self._tokens = MongoTokens(lambda: self._db["tokens"])

    @property
    def tokens(self) -> TokenStore:
        return self._tokens

    # -- connection -------------------------------------------------------------------

    async def open(self) -> None:
        from pymongo import ASCENDING, AsyncMongoClient

        with _driver_errors():
            self._client = AsyncMongoClient(self.url, tz_aware=True, uuidRepresentation="standard")
            self._db = self._client[self.database_name]
            docs = self._db["documents"]
            await docs.create_index([("model", ASCENDING), ("seq", ASCENDING)])
            await docs.create_index([("model", ASCENDING), ("id", ASCENDING)])
            meta = self._db["meta"]
            await meta.update_one(
                {"_id": "store"},
                {"$setOnInsert": {"store_id": uuid.uuid4().hex[:16], "schema": SCHEMA_VERSION}},
                upsert=True,
            )
            store = await meta.find_one({"_id": "store"})
            if store["schema"] != SCHEMA_VERSION:
                raise StoreError(
                    f"The store has schema version {store['schema']}; "
                    f"this server expects {SCHEMA_VERSION}"
                )
            self.store_id = str(store["store_id"])
            await meta.update_one({"_id": "watermark"}, {"$setOnInsert": {"pos": 0}}, upsert=True)

    async def _ensure_sequencer(self) -> None:
        """Start this process's sequencer on first use of the change log (a store opened
        only for tokens, like `token create`, never watches the stream)."""
        from pymongo.errors import OperationFailure

        if self._sequencer is not None:
            return
        async with self._sequencer_lock:
            if self._sequencer is not None:
                return
            with _driver_errors():
                try:
                    stream = await self._open_stream()
                except OperationFailure as exc:
                    if "replica set" in str(exc).lower():  # e.g. code 40573 on a standalone
                        raise StoreError(
                            "MongoDB must run as a replica set: the change log is built on "
                            "change streams (a one-member replica set will do; see the README)"
                        ) from exc
                    raise
            self._sequencer = asyncio.create_task(self._sequence(stream), name="mongo-sequencer")

    async def close(self) -> None:
        if self._sequencer is not None:
            self._sequencer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sequencer
            self._sequencer = None
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(StoreError("The store was closed"))
        self._waiting.clear()
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- the sequencer ----------------------------------------------------------------

    async def _open_stream(self) -> Any:
        """The documents collection's change stream, from where the sequencer stopped (or
        from now, after sequencing what no stream will report again)."""
        from pymongo.errors import OperationFailure

        docs, meta = self._db["documents"], self._db["meta"]
        state = await meta.find_one({"_id": "sequencer"})
        if state is not None:
            try:
                return await docs.watch(resume_after=state["token"])
            except OperationFailure as exc:
                # ChangeStreamHistoryLost (286) and kin: the oplog no longer reaches back.
                log.warning("Cannot resume the change stream (%s); sequencing afresh", exc)
        start = await self._now()
        stream = await docs.watch(start_at_operation_time=start)
        await self._sequence_unsequenced(position(start))
        return stream

    async def _now(self) -> Any:
        """The current cluster time: from a reply's ``operationTime`` on a real server, from
        the last oplog entry on servers that send none (mongo-java-server)."""
        from bson import Timestamp

        reply = await self._db.command("ping")
        if "operationTime" in reply:
            return reply["operationTime"]
        last = await self._client["local"]["oplog.rs"].find_one({}, sort=[("$natural", -1)])
        return Timestamp(last["ts"].time, last["ts"].inc + 1) if last else Timestamp(0, 1)

    async def _sequence_unsequenced(self, start: int) -> None:
        """Give every version still without a position one above the watermark (and below
        ``start``, where the new stream begins)."""
        docs = self._db["documents"]
        pending = [d async for d in docs.find({"seq": None}, {"_id": 1, "ver": 1}).sort("_id")]
        if not pending:
            return
        watermark = await self._watermark()
        first = max(watermark + 1, start - len(pending))
        for offset, doc in enumerate(pending):
            await docs.update_one(
                {"_id": doc["_id"], "ver": doc["ver"], "seq": None},
                {"$set": {"seq": first + offset}},
            )
        await self._raise_watermark(first + len(pending) - 1)

    async def _sequence(self, stream: Any) -> None:
        from pymongo import UpdateOne
        from pymongo.errors import PyMongoError

        docs, meta = self._db["documents"], self._db["meta"]
        idle = self.idle_poll
        while True:
            try:
                self._kick.clear()
                batch: list[dict[str, Any]] = []
                while len(batch) < self.watch_page:
                    event = await stream.try_next()
                    if event is None:
                        break
                    batch.append(event)
                if not batch:
                    # A server that answers at once when there is nothing (the emulator does;
                    # MongoDB waits server-side) would be polled hot: back off while idle.
                    # (asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that arrives as the event is set, and close() would then
                    # wait for this task forever.)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(idle):
                            await self._kick.wait()
                    # Poll briskly right after a local write, ever slower while idle.
                    idle = (
                        self.idle_poll if self._kick.is_set() else min(idle * 2, self.idle_poll_max)
                    )
                    continue
                idle = self.idle_poll
                top, updates, reached = 0, [], {}
                for event in batch:
                    pos = position(event["clusterTime"])
                    # A replace is reported with its document in fullDocument (MongoDB) or in
                    # documentKey (mongo-java-server, which calls it an update).
                    written = event.get("fullDocument") or event.get("documentKey") or {}
                    if "ver" not in written or "model" not in written:
                        continue  # our own sequencing updates, or another collection's drop
                    key, ver = written["_id"], written["ver"]
                    top = max(top, pos)  # only our writes move the log's end
                    updates.append(
                        UpdateOne({"_id": key, "ver": ver, "seq": None}, {"$set": {"seq": pos}})
                    )
                    reached[key, ver] = pos
                if updates:
                    await docs.bulk_write(updates, ordered=True)
                    await self._raise_watermark(top)
                await meta.update_one(
                    {"_id": "sequencer"}, {"$set": {"token": batch[-1]["_id"]}}, upsert=True
                )
                self._advanced.set()
                self._advanced = asyncio.Event()
                for written_version, pos in reached.items():
                    waiter = self._waiting.pop(written_version, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(pos)
            except asyncio.CancelledError:
                await stream.close()
                raise
            except PyMongoError:
                log.exception("The change stream failed; resuming")
                await asyncio.sleep(1.0)
                with contextlib.suppress(PyMongoError):
                    await stream.close()
                    stream = await self._open_stream()

    async def _watermark(self) -> int:
        doc = await self._db["meta"].find_one({"_id": "watermark"})
        return int(doc["pos"]) if doc else 0

    async def _raise_watermark(self, pos: int) -> None:
        await self._db["meta"].update_one({"_id": "watermark"}, {"$max": {"pos": pos}}, upsert=True)

    async def _positions(self, waiters: dict[str, asyncio.Future[int]]) -> dict[str, int]:
        """The log positions of versions just written, once the sequencer reaches them."""
        if not waiters:
            return {}
        done, _ = await asyncio.wait(waiters.values(), timeout=self.sequencing_timeout)
        if len(done) < len(waiters):
            given_up = set(waiters.values())
            for key in [k for k, w in self._waiting.items() if w in given_up]:
                del self._waiting[key]
            running = self._sequencer is not None and not self._sequencer.done()
            raise StoreError(
                "Writes were stored but the change log did not record them in time"
                + ("" if running else ": its sequencer stopped")
            )
        return {model_id: waiter.result() for model_id, waiter in waiters.items()}

    # -- reads ------------------------------------------------------------------------

    async def checkpoint(self, model: str) -> str:
        with _driver_errors():
            return self._encode(await self._watermark())

    def _doc(self, row: dict[str, Any]) -> StoredDoc:
        return StoredDoc(
            row["id"],
            row["rev"],
            row["prev"],
            row["data"],
            row["clock"],
            row["ancestors"],
            row.get("bases") or {},
            None if row.get("seq") is None else self._encode(row["seq"]),
        )

    async def get(self, model: str, ids: Sequence[str]) -> dict[str, StoredDoc]:
        with _driver_errors():
            rows = await self._find_keys(model, ids, bases=False)
            return {row["id"]: self._doc(row) for row in rows}

    async def _find_keys(self, model: str, ids: Sequence[str], bases: bool) -> list[dict[str, Any]]:
        projection = None if bases else {"bases": 0}
        keys = [_key(model, i) for i in dict.fromkeys(ids)]
        return [row async for row in self._db["documents"].find({"_id": {"$in": keys}}, projection)]

    async def find(
        self, model: str, where: Filter | None, limit: int, offset: int = 0
    ) -> list[StoredDoc]:
        query = {"model": model, "rev": {"$ne": None}, **compile_filter(where, "data")}
        with _driver_errors():
            cursor = (
                self._db["documents"].find(query, {"bases": 0}).sort("id").skip(offset).limit(limit)
            )
            return [self._doc(row) async for row in cursor]

    async def _read_log(self, model: str, read: LogRead) -> LogPage:
        await self._ensure_sequencer()
        with _driver_errors():
            # Below the watermark every version has its position: nothing can appear later
            # behind what this read returns.
            span = self._span(read, await self._watermark())
            query = {
                "model": model,
                "seq": {"$gt": span.start, "$lte": span.end},
                **compile_filter(read.where, "data"),
            }
            cursor = self._db["documents"].find(query, {"bases": 0}).sort("seq")
            rows = [row async for row in cursor.limit(read.limit + 1)]
        return self._page(read, span, [self._doc(row) for row in rows], [r["seq"] for r in rows])

    async def conflicts(self, model: str, where: Filter | None = None) -> list[StoredConflict]:
        query = {"model": model, **compile_filter(where, "match_data")}
        with _driver_errors():
            cursor = self._db["conflicts"].find(query).sort("model_id")
            return [StoredConflict.from_body(row["body"]) async for row in cursor]

    def write_signal(self, model: str) -> asyncio.Event:
        # The sequencer sees every process's writes, so no polling is needed.
        return self._advanced

    # -- writes -----------------------------------------------------------------------

    async def transact(
        self, model: str, ids: Sequence[str], decide: Decide[T]
    ) -> tuple[list[StoredDoc], T]:
        """Optimistic: decide on the records as read, then write each one only if it is
        still the version decided from. Records that changed meanwhile are read again and
        the decision is made again; the other records keep what was written for them."""
        await self._ensure_sequencer()
        with _driver_errors():
            rows = {row["id"]: row for row in await self._find_keys(model, ids, bases=True)}
            pending = await self._pending_conflicts(model, ids)
            todo: set[str] | None = None  # None: every id of the batch
            written: dict[str, StoredDoc] = {}
            waiters: dict[str, asyncio.Future[int]] = {}
            for _attempt in range(MAX_WRITE_ATTEMPTS):
                current = {i: self._doc(row) for i, row in rows.items()}
                batch, result = decide(current, pending)
                lost = await self._apply(model, batch, rows, todo, written, waiters)
                if not lost:
                    for model_id, pos in (await self._positions(waiters)).items():
                        written[model_id].checkpoint = self._encode(pos)
                    return list(written.values()), result
                # Read the lost records again; keep the others as they were decided from.
                fresh = {r["id"]: r for r in await self._find_keys(model, sorted(lost), bases=True)}
                for i in lost:
                    if i in fresh:
                        rows[i] = fresh[i]
                    else:
                        rows.pop(i, None)
                recorded = await self._pending_conflicts(model, sorted(lost))
                pending = {**{k: v for k, v in pending.items() if k not in lost}, **recorded}
                todo = lost
            raise StoreError("Too many concurrent writes to the same documents; try again")

    async def _apply(
        self,
        model: str,
        batch: WriteBatch,
        rows: dict[str, dict[str, Any]],
        todo: set[str] | None,
        written: dict[str, StoredDoc],
        waiters: dict[str, asyncio.Future[int]],
    ) -> set[str]:
        """Write the batch's records of ``todo`` conditionally; returns the ids lost to a
        concurrent writer."""
        from pymongo import InsertOne, ReplaceOne
        from pymongo.errors import BulkWriteError

        docs = self._db["documents"]
        lost: set[str] = set()
        # The last record of each id, encoded before anything is written, so that content
        # the database cannot store fails the whole batch, not half of it.
        latest = {d.model_id: d for d in batch.docs if todo is None or d.model_id in todo}
        encoded = [(doc, uuid.uuid4().hex) for doc in latest.values()]
        records = [_encode_record(model, doc, ver) for doc, ver in encoded]
        ops: list[Any] = []
        # Registered before writing: the sequencer may reach a version before this returns.
        futures: list[asyncio.Future[int]] = []
        for (doc, ver), record in zip(encoded, records, strict=True):
            key = _key(model, doc.model_id)
            before = rows.get(doc.model_id)
            future = self._waiting[key, ver] = asyncio.get_running_loop().create_future()
            futures.append(future)
            if before is None:
                ops.append(InsertOne(record))
            else:
                ops.append(ReplaceOne({"_id": key, "ver": before["ver"]}, record))
        # Ordered, so the log keeps the batch's order; a document inserted meanwhile by
        # another writer stops the batch there, and the rest is decided again.
        failed: set[int] = set()
        attempted = len(ops)
        if ops:
            try:
                matched = (await docs.bulk_write(ops, ordered=True)).matched_count
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if len(errors) != 1 or errors[0].get("code") != 11000:
                    raise
                attempted = errors[0]["index"]
                failed = set(range(attempted, len(ops)))
                matched = exc.details.get("nMatched", 0)
            self._kick.set()  # what was written is in the stream: sequence it now
            replaces = sum(isinstance(op, ReplaceOne) for op in ops[:attempted])
            if matched < replaces:
                # Some replaces found another version: read back which ones hold ours.
                keys = [op._filter["_id"] for op in ops[:attempted] if isinstance(op, ReplaceOne)]
                held = {
                    row["_id"]: row["ver"]
                    async for row in docs.find({"_id": {"$in": keys}}, {"ver": 1})
                }
                failed |= {
                    i
                    for i, ((doc, ver), op) in enumerate(zip(encoded, ops, strict=True))
                    if i < attempted
                    and isinstance(op, ReplaceOne)
                    and held.get(_key(model, doc.model_id)) != ver
                }
        for i, ((doc, ver), future) in enumerate(zip(encoded, futures, strict=True)):
            if i in failed:
                self._waiting.pop((_key(model, doc.model_id), ver), None)
                lost.add(doc.model_id)
            else:
                written[doc.model_id] = doc
                waiters[doc.model_id] = future
        conflicts = self._db["conflicts"]
        for model_id in batch.settled:
            if (todo is None or model_id in todo) and model_id not in lost:
                await conflicts.delete_one({"_id": _key(model, model_id)})
        for c in batch.conflicts:
            if (todo is None or c.model_id in todo) and c.model_id not in lost:
                await conflicts.replace_one(
                    {"_id": _key(model, c.model_id)},
                    {
                        "model": model,
                        "model_id": c.model_id,
                        "match_data": c.matched,
                        "body": c.to_body(),
                    },
                    upsert=True,
                )
        return lost

    async def _pending_conflicts(self, model: str, ids: Sequence[str]) -> dict[str, StoredConflict]:
        keys = [_key(model, i) for i in ids]
        cursor = self._db["conflicts"].find({"_id": {"$in": keys}})
        return {row["model_id"]: StoredConflict.from_body(row["body"]) async for row in cursor}


class MongoTokens(TokenStore):
    """The ``tokens`` collection (a record's ``_id`` is its token id)."""

    def __init__(self, collection: Callable[[], Any]) -> None:
        self._collection = collection

    async def save(self, record: TokenRecord) -> None:
        with _driver_errors():
            row = dataclasses.asdict(record)
            row["_id"] = row.pop("token_id")
            await self._collection().insert_one(row)

    async def get(self, token_id: str) -> TokenRecord | None:
        with _driver_errors():
            row = await self._collection().find_one({"_id": token_id})
        return None if row is None else _token(row)

    async def list(self) -> list[TokenRecord]:
        with _driver_errors():
            cursor = self._collection().find({}, sort=[("created_at", 1), ("_id", 1)])
            return [_token(row) async for row in cursor]

    async def revoke(self, token_id: str, at: float) -> bool:
        with _driver_errors():
            found = await self._collection().find_one({"_id": token_id}, {"_id": 1})
            if found is None:
                return False
            await self._collection().update_one(
                {"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
            )
        return True


def _token(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        row["_id"],
        row["secret_hash"],
        row["role"],
        row["tenant"],
        row["created_at"],
        row.get("expires_at"),
        row.get("revoked_at"),
    )


@contextlib.contextmanager
def _driver_errors() -> Iterator[None]:
    """Map PyMongo's exceptions to ours, in this one place (credentials never logged)."""
    from pymongo.errors import ConnectionFailure, PyMongoError

    try:
        yield
    except ReplError:
        raise
    except ConnectionFailure as exc:
        log.error("MongoDB unreachable: %s", type(exc).__name__)
        raise StoreError("The database is unreachable; try again") from exc
    except PyMongoError as exc:
        log.exception("MongoDB operation failed")
        raise StoreError("The database operation failed") from exc


# -- filters --------------------------------------------------------------------------


def compile_filter(where: Filter | None, prefix: str) -> dict[str, Any]:
    """A parsed filter as a MongoDB query on the subdocument ``prefix``."""
    return {} if where is None else _compile(where, prefix)


def _compile(node: Filter, prefix: str) -> dict[str, Any]:
    if isinstance(node, And):
        return {"$and": [_compile(p, prefix) for p in node.parts]}
    if isinstance(node, Or):
        return {"$or": [_compile(p, prefix) for p in node.parts]}
    return {f"{prefix}.{node.field}": _condition(node)}


def _condition(c: Condition) -> Any:
    # MongoDB's own semantics match the contract's: equality on a list field means "the
    # list contains it", $ne and $nin match documents without the field, null matches
    # a missing field.
    op, value = c.op, c.value
    if op == "eq":
        return {"$eq": value}
    if op == "neq":
        return {"$ne": value}
    if op in ("inq", "nin"):
        return {"$in" if op == "inq" else "$nin": list(value)}
    if op == "like":
        return {"$regex": like_to_regex(value)}
    return {f"${op}": value}


def like_to_regex(pattern: str) -> str:
    """An SQL LIKE pattern (``%``, ``_``) as an anchored, case-sensitive regex."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("[\\s\\S]*")  # any characters, line breaks included
        elif ch == "_":
            out.append("[\\s\\S]")
        else:
            out.append(re.escape(ch))
    return "^" + "".join(out) + "$"
