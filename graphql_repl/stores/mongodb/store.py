"""The MongoDB store: documents, conflicts and optimistic writes, on PyMongo's async API.

PyMongo's ``AsyncMongoClient`` is the official successor of Motor (end of life May 2026);
this module uses it directly. The change log's positions come from ``sequencer``; what
``open`` checks and creates is in ``schema``.

Writes are optimistic: one conditional replace per document on the version it was decided
from (``ver``); a document changed meanwhile is read again and decided again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bson import encode
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient, InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from pymongo.uri_parser import parse_uri

from ...errors import StoreError
from ...filters import Filter
from ..base import Decide, LogPage, LogRead, Store, StoredConflict, StoredDoc, WriteBatch
from ..tokens import TokenStore
from ..url import StoreURL
from .errors import INVALID_URL, UNSTORABLE, driver_errors
from .filters import compile_filter
from .lease import Lease, identity
from .positions import Version
from .schema import prepare, routed
from .sequencer import Sequencer
from .state import watermark
from .stream import ChangeStreams
from .tokens import MongoTokens

T = TypeVar("T")
Row = dict[str, Any]

DEFAULT_DATABASE = "graphql_repl"
# Conditional writes retried this many times when other writers keep changing the documents.
MAX_WRITE_ATTEMPTS = 20


def _key(model: str, model_id: str) -> str:
    return f"{model}\x00{model_id}"


@dataclass(frozen=True, slots=True)
class _Version:
    """A record about to be written: its new ``ver``, its stored form, and the ``ver`` it
    must replace (None: the document is new)."""

    doc: StoredDoc
    key: str
    ver: str
    stored: RawBSONDocument
    replaces: str | None

    @classmethod
    def of(cls, model: str, doc: StoredDoc, before: Row | None) -> _Version:
        """Encoded now, so that content BSON cannot hold fails before anything is written."""
        key, ver = _key(model, doc.model_id), uuid.uuid4().hex
        fields = {
            "_id": key,
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
        try:
            stored = RawBSONDocument(encode(fields))
        except UNSTORABLE as exc:
            raise StoreError(f"{model} {doc.model_id!r} cannot be stored: {exc}") from None
        return cls(doc, key, ver, stored, None if before is None else before["ver"])

    @property
    def version(self) -> Version:
        return Version(self.key, self.ver)

    def op(self, model: str) -> InsertOne[Any] | ReplaceOne[Any]:
        if self.replaces is None:
            return InsertOne(self.stored)
        # With the model, the filter holds the whole shard key (see the README).
        return ReplaceOne({"_id": self.key, "model": model, "ver": self.replaces}, self.stored)


@dataclass(frozen=True, slots=True)
class Applied:
    """What writing one decision did: the records written, by id, with the futures of their
    log positions, and the ids lost to a concurrent writer (to be decided again)."""

    written: Mapping[str, StoredDoc]
    waiters: Mapping[str, asyncio.Future[int]]
    lost: frozenset[str]


class MongoStore(Store):
    """One database (the URL's path, default ``graphql_repl``) holds every model:
    ``documents`` (one per document: content or tombstone plus its latest change; and the
    sequencer's state), ``conflicts``, ``tokens`` and ``meta`` (the store's identity)."""

    def __init__(self, url: StoreURL) -> None:
        # The driver reads its own URL: it checks the options too, and names the database
        # as it will use it.
        try:
            parsed = parse_uri(url.secret)
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
            client: AsyncMongoClient[Row] = AsyncMongoClient(
                self.url.secret, tz_aware=True, uuidRepresentation="standard"
            )
            try:
                db = client[self.database_name]
                docs = db["documents"]
                streams = ChangeStreams(client, docs)
                self.store_id = await prepare(client, db, streams, self.url.host)
            except BaseException:
                await client.close()  # a store that failed to open holds nothing
                raise
            self._client, self._db = client, db
            lease = Lease(identity())
            self._sequencer = Sequencer(docs, streams, lease, self.watch_page, routed(client))

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
            return self._encode(await watermark(self._collection("documents")))

    def gauges(self) -> Mapping[str, float]:
        return {} if self._sequencer is None else self._sequencer.gauges()

    async def readiness(self) -> str | None:
        """Also: the change log is being sequenced (this process holds the sequencer's
        lease, or follows a holder that renews it)."""
        reason = await super().readiness()
        if reason is not None:
            return reason
        try:
            async with asyncio.timeout(self.readiness_timeout):
                await self._running().start()
        except TimeoutError:
            return f"The change stream did not open within {self.readiness_timeout:g} s"
        except StoreError as exc:
            return exc.message
        return self._running().status()

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
        query = {"_id": {"$in": keys}, "model": model}
        cursor = self._collection("documents").find(query, projection)
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
            span = self._span(read, await watermark(self._collection("documents")))
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
        sequencer = self._running()
        await sequencer.start()
        with driver_errors():
            rows = {row["id"]: row for row in await self._find_keys(model, ids, bases=True)}
            pending = await self._pending_conflicts(model, ids)
            todo: frozenset[str] | None = None  # None: every id of the batch
            written: dict[str, StoredDoc] = {}
            waiters: dict[str, asyncio.Future[int]] = {}
            for _attempt in range(MAX_WRITE_ATTEMPTS):
                current = {i: self._doc(row) for i, row in rows.items()}
                batch, result = decide(current, pending)
                applied = await self._apply(model, batch, rows, todo)
                written.update(applied.written)
                waiters.update(applied.waiters)
                if not applied.lost:
                    for model_id, pos in (await sequencer.positions(waiters)).items():
                        written[model_id].checkpoint = self._encode(pos)
                    return list(written.values()), result
                # Read the lost records again; keep the others as they were decided from.
                lost = sorted(applied.lost)
                fresh = {r["id"]: r for r in await self._find_keys(model, lost, bases=True)}
                for i in lost:
                    if i in fresh:
                        rows[i] = fresh[i]
                    else:
                        rows.pop(i, None)
                recorded = await self._pending_conflicts(model, lost)
                pending = {
                    **{k: v for k, v in pending.items() if k not in applied.lost},
                    **recorded,
                }
                todo = applied.lost
            raise StoreError("Too many concurrent writes to the same documents; try again")

    async def _apply(
        self,
        model: str,
        batch: WriteBatch,
        rows: Mapping[str, Row],
        todo: frozenset[str] | None,
    ) -> Applied:
        """Write the batch's records of ``todo`` (None: all of them), each on the version it
        was decided from, then its conflicts and settlements of the ids not lost."""
        latest = {d.model_id: d for d in batch.docs if todo is None or d.model_id in todo}
        versions = [_Version.of(model, doc, rows.get(doc.model_id)) for doc in latest.values()]
        sequencer = self._running()
        # Registered before writing: the sequencer may reach a version before this returns.
        futures = [sequencer.waiters.expect(v.version) for v in versions]
        try:
            failed = await self._write(model, versions)
        except BaseException:
            for v in versions:
                sequencer.waiters.forget(v.version)
            raise
        for i in failed:
            sequencer.waiters.forget(versions[i].version)
        lost = frozenset(versions[i].doc.model_id for i in failed)
        held = [i for i in range(len(versions)) if i not in failed]
        await self._record_conflicts(
            model, batch, lambda i: (todo is None or i in todo) and i not in lost
        )
        return Applied(
            written={versions[i].doc.model_id: versions[i].doc for i in held},
            waiters={versions[i].doc.model_id: futures[i] for i in held},
            lost=lost,
        )

    async def _write(self, model: str, versions: Sequence[_Version]) -> set[int]:
        """Write ``versions`` in one ordered bulk write; returns the indexes of those that
        lost to a concurrent writer."""
        if not versions:
            return set()
        docs = self._collection("documents")
        # Ordered, so the log keeps the batch's order; a document inserted meanwhile by
        # another writer stops the batch there, and the rest is decided again.
        attempted = len(versions)
        try:
            result = await docs.bulk_write([v.op(model) for v in versions], ordered=True)
            matched = result.matched_count
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if len(errors) != 1 or errors[0].get("code") != 11000:
                raise
            attempted = errors[0]["index"]
            matched = exc.details.get("nMatched", 0)
        self._running().kick()  # what was written is in the stream: sequence it now
        failed = set(range(attempted, len(versions)))
        replaced = [i for i in range(attempted) if versions[i].replaces is not None]
        if matched < len(replaced):
            # Some replaces found another version: read back which ones hold ours.
            keys = [versions[i].key for i in replaced]
            cursor = docs.find({"_id": {"$in": keys}, "model": model}, {"ver": 1})
            held = {row["_id"]: row["ver"] async for row in cursor}
            failed |= {i for i in replaced if held.get(versions[i].key) != versions[i].ver}
        return failed

    async def _record_conflicts(
        self, model: str, batch: WriteBatch, applies: Callable[[str], bool]
    ) -> None:
        """Settle and record the batch's conflicts of the ids ``applies`` to."""
        conflicts = self._collection("conflicts")
        for model_id in batch.settled:
            if applies(model_id):
                await conflicts.delete_one({"_id": _key(model, model_id)})
        for c in batch.conflicts:
            if applies(c.model_id):
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

    async def _pending_conflicts(self, model: str, ids: Sequence[str]) -> dict[str, StoredConflict]:
        keys = [_key(model, i) for i in ids]
        cursor = self._collection("conflicts").find({"_id": {"$in": keys}})
        return {row["model_id"]: StoredConflict.from_body(row["body"]) async for row in cursor}
