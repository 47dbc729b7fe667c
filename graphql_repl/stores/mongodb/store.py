"""The MongoDB store: documents, conflicts and optimistic writes, on PyMongo's async API.

PyMongo's ``AsyncMongoClient`` is the official successor of Motor (end of life May 2026);
this module uses it directly. The change log's positions come from ``sequencer``.

Writes are optimistic: one conditional replace per document on the version it was decided
from (``ver``); a document changed meanwhile is read again and decided again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from bson import encode
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, AsyncMongoClient, InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from pymongo.uri_parser import parse_uri

from ...errors import StoreError
from ...filters import Filter
from ..base import Decide, LogPage, LogRead, Store, StoredConflict, StoredDoc, WriteBatch
from ..tokens import TokenStore
from .errors import INVALID_URL, UNSTORABLE, driver_errors
from .filters import compile_filter
from .sequencer import Row, Sequencer, watermark
from .tokens import MongoTokens

T = TypeVar("T")

SCHEMA_VERSION = 1
DEFAULT_DATABASE = "graphql_repl"
# Conditional writes retried this many times when other writers keep changing the documents.
MAX_WRITE_ATTEMPTS = 20


def _key(model: str, model_id: str) -> str:
    return f"{model}\x00{model_id}"


def _encode_record(model: str, doc: StoredDoc, ver: str) -> Any:
    """A document's stored form, as BSON (raising here for content BSON cannot hold)."""
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
    except UNSTORABLE as exc:
        raise StoreError(f"{model} {doc.model_id!r} cannot be stored: {exc}") from None


class MongoStore(Store):
    """One database (the URL's path, default ``graphql_repl``) holds every model:
    ``documents`` (one per document: content or tombstone plus its latest change),
    ``conflicts``, ``tokens`` and ``meta`` (store identity, watermark, sequencer state)."""

    def __init__(self, url: str) -> None:
        try:
            parsed = parse_uri(url)
        except INVALID_URL as exc:  # the parser's own errors name the problem
            raise ValueError(f"Invalid MongoDB URL: {exc}") from None
        self.url = url
        self.database_name = parsed.get("database") or DEFAULT_DATABASE
        self.store_id = ""
        self._client: AsyncMongoClient[Row] | None = None
        self._db: AsyncDatabase[Row] | None = None
        self._sequencer: Sequencer | None = None
        self._tokens = MongoTokens(lambda: self._collection("tokens"))

    @property
    def tokens(self) -> TokenStore:
        return self._tokens

    # -- connection -----------------------------------------------------------------------

    async def open(self) -> None:
        with driver_errors():
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
            assert store is not None  # just upserted
            if store["schema"] != SCHEMA_VERSION:
                raise StoreError(
                    f"The store has schema version {store['schema']}; "
                    f"this server expects {SCHEMA_VERSION}"
                )
            self.store_id = str(store["store_id"])
            await meta.update_one({"_id": "watermark"}, {"$setOnInsert": {"pos": 0}}, upsert=True)
            self._sequencer = Sequencer(self._client, self._db, self.watch_page)

    async def close(self) -> None:
        if self._sequencer is not None:
            await self._sequencer.stop()
            self._sequencer = None
        if self._client is not None:
            await self._client.close()
            self._client = self._db = None

    def _collection(self, name: str) -> AsyncCollection[Row]:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db[name]

    def _running(self) -> Sequencer:
        if self._sequencer is None:
            raise StoreError("the store is not open")
        return self._sequencer

    # -- reads ------------------------------------------------------------------------

    async def checkpoint(self, model: str) -> str:
        with driver_errors():
            return self._encode(await watermark(self._collection("meta")))

    def _doc(self, row: Row) -> StoredDoc:
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
        with driver_errors():
            rows = await self._find_keys(model, ids, bases=False)
            return {row["id"]: self._doc(row) for row in rows}

    async def _find_keys(self, model: str, ids: Sequence[str], bases: bool) -> list[Row]:
        projection = None if bases else {"bases": 0}
        keys = [_key(model, i) for i in dict.fromkeys(ids)]
        cursor = self._collection("documents").find({"_id": {"$in": keys}}, projection)
        return [row async for row in cursor]

    async def find(
        self, model: str, where: Filter | None, limit: int, offset: int = 0
    ) -> list[StoredDoc]:
        query = {"model": model, "rev": {"$ne": None}, **compile_filter(where, "data")}
        with driver_errors():
            cursor = (
                self._collection("documents")
                .find(query, {"bases": 0})
                .sort("id")
                .skip(offset)
                .limit(limit)
            )
            return [self._doc(row) async for row in cursor]

    async def _read_log(self, model: str, read: LogRead) -> LogPage:
        await self._running().start()
        with driver_errors():
            # Below the watermark every version has its position: nothing can appear later
            # behind what this read returns.
            span = self._span(read, await watermark(self._collection("meta")))
            query = {
                "model": model,
                "seq": {"$gt": span.start, "$lte": span.end},
                **compile_filter(read.where, "data"),
            }
            cursor = self._collection("documents").find(query, {"bases": 0}).sort("seq")
            rows = [row async for row in cursor.limit(read.limit + 1)]
        return self._page(read, span, [self._doc(row) for row in rows], [r["seq"] for r in rows])

    async def conflicts(self, model: str, where: Filter | None = None) -> list[StoredConflict]:
        query = {"model": model, **compile_filter(where, "match_data")}
        with driver_errors():
            cursor = self._collection("conflicts").find(query).sort("model_id")
            return [StoredConflict.from_body(row["body"]) async for row in cursor]

    def write_signal(self, model: str) -> asyncio.Event:
        # The sequencer sees every process's writes, so no polling is needed.
        return self._running().advanced

    # -- writes -----------------------------------------------------------------------

    async def transact(
        self, model: str, ids: Sequence[str], decide: Decide[T]
    ) -> tuple[list[StoredDoc], T]:
        """Optimistic: decide on the records as read, then write each one only if it is
        still the version decided from. Records that changed meanwhile are read again and
        the decision is made again; the other records keep what was written for them."""
        await self._running().start()
        with driver_errors():
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
                    for model_id, pos in (await self._running().positions(waiters)).items():
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
        rows: dict[str, Row],
        todo: set[str] | None,
        written: dict[str, StoredDoc],
        waiters: dict[str, asyncio.Future[int]],
    ) -> set[str]:
        """Write the batch's records of ``todo`` conditionally; returns the ids lost to a
        concurrent writer."""
        docs = self._collection("documents")
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
            futures.append(self._running().expect((key, ver)))
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
            self._running().kick()  # what was written is in the stream: sequence it now
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
                self._running().forget((_key(model, doc.model_id), ver))
                lost.add(doc.model_id)
            else:
                written[doc.model_id] = doc
                waiters[doc.model_id] = future
        conflicts = self._collection("conflicts")
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
        cursor = self._collection("conflicts").find({"_id": {"$in": keys}})
        return {row["model_id"]: StoredConflict.from_body(row["body"]) async for row in cursor}
