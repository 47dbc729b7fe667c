"""The store contract: what every backend provides, and nothing of replication policy.

A store keeps, per model, one record per document: its content (or a tombstone), and its
latest change (rev, prev, per-field clock, ancestry) at a position in the model's change
log. A write and its change entry are one atomic step, and positions are assigned so that a
reader following ``changes(since)`` never misses a committed write.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import ReplError
from ..filters import Filter
from ..models import Document
from .checkpoints import decode_checkpoint, encode_checkpoint, page_of
from .tokens import TokenStore

T = TypeVar("T")


@dataclass(slots=True)
class StoredDoc:
    """A document's record. For a tombstone ``rev`` is None and ``data`` holds only the
    id and the change properties of the deleted content, so filters still match it."""

    model_id: str
    rev: str | None
    prev: str | None
    data: Document
    clock: dict[str, str]
    ancestors: list[str]  # state ids of earlier versions, newest first
    bases: dict[str, Document] = field(default_factory=dict)  # content of recent ancestors
    checkpoint: str | None = None  # assigned by the store when written

    @property
    def deleted(self) -> bool:
        return self.rev is None


@dataclass(slots=True)
class StoredConflict:
    """A recorded conflict: the source's update that was not applied, and the target's
    document it conflicts with (``to_body``/``from_body``: the form stores keep)."""

    model_id: str
    source_rev: str | None
    target_rev: str | None
    source_data: Document | None
    target_data: Document | None
    fields: list[str]
    # What ``where`` filters match: the target's content, or for a deleted target its
    # tombstone's id and change properties (None: the target's data).
    match_data: Document | None = None
    source_prev: str | None = None
    source_clock: dict[str, str] = field(default_factory=dict)
    source_ancestors: list[str] = field(default_factory=list)

    @property
    def matched(self) -> Document | None:
        """What ``where`` filters on conflicts match."""
        return self.match_data if self.match_data is not None else self.target_data

    def to_body(self) -> dict[str, Any]:
        """The conflict as a JSON- and BSON-ready object, as stores keep it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StoredConflict:
        return cls(**body)


@dataclass(slots=True)
class WriteBatch:
    """What one atomic step writes: documents (each with its change), conflicts to record,
    and the ids whose recorded conflict is settled."""

    docs: list[StoredDoc] = field(default_factory=list)
    conflicts: list[StoredConflict] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LogRead:
    """What one ``changes`` call asks for: the records changed after checkpoint ``since``
    and at or before ``until`` (None: the start and the end of the log) that match
    ``where``, at most ``limit`` of them."""

    since: str | None
    until: str | None
    where: Filter | None
    limit: int


@dataclass(frozen=True, slots=True)
class LogSpan:
    """The log positions a read covers: after ``start``, at most ``end``."""

    start: int
    end: int


@dataclass(slots=True)
class LogPage:
    docs: list[StoredDoc]  # each with its checkpoint, in log order
    checkpoint: str  # where the next page starts
    has_more: bool


# decide(current records by id, recorded conflicts by id) -> (what to write, a result).
# A store may call it more than once (optimistic stores retry on a concurrent write), so it
# must not have side effects beyond its return value.
Decide = Callable[[dict[str, StoredDoc], dict[str, StoredConflict]], tuple[WriteBatch, T]]


class Store(abc.ABC):
    """One backend. Subclasses must implement every abstract method (checked when the
    class is instantiated, not at first call). What every backend does alike is here:
    ``changes`` and ``watch``, checkpoint encoding (``_encode``, ``_decode``), and the
    window and paging of a log read (``_span``, ``_page``)."""

    #: A stable identity of this store's data, part of every checkpoint it issues.
    store_id: str

    @property
    @abc.abstractmethod
    def tokens(self) -> TokenStore:
        """This store's access tokens."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema and indexes if they are missing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    #: How long ``readiness`` waits for the store to answer.
    readiness_timeout = 2.0

    async def readiness(self) -> str | None:
        """None when the store can serve, else a one-line reason (for a readiness probe).
        Here: the store answers a cheap read within ``readiness_timeout``; a backend may
        check more (and should call this first)."""
        try:
            async with asyncio.timeout(self.readiness_timeout):
                await self.checkpoint("")
        except TimeoutError:
            return f"The store did not answer within {self.readiness_timeout:g} s"
        except ReplError as exc:
            return exc.message
        return None

    def gauges(self) -> Mapping[str, float]:
        """Measurements of the backend's own machinery, by name (the metrics export each as
        ``graphql_repl_store_<name>``); none here."""
        return {}

    @abc.abstractmethod
    async def checkpoint(self, model: str) -> str:
        """The current end of ``model``'s change log."""

    @abc.abstractmethod
    async def get(self, model: str, ids: Sequence[str]) -> dict[str, StoredDoc]:
        """Records (tombstones included) by id; absent ids are missing from the result."""

    @abc.abstractmethod
    async def find(
        self, model: str, where: Filter | None, limit: int, offset: int = 0
    ) -> list[StoredDoc]:
        """Live documents matching ``where``, ordered by id."""

    async def changes(
        self,
        model: str,
        since: str | None,
        where: Filter | None,
        limit: int,
        until: str | None = None,
    ) -> LogPage:
        """Records changed after ``since`` (and at or before ``until``), in log order.

        Raises ``BadCheckpoint`` for a checkpoint this store did not issue."""
        return await self._read_log(model, LogRead(since, until, where, limit))

    @abc.abstractmethod
    async def _read_log(self, model: str, read: LogRead) -> LogPage:
        """``changes``: read the end of ``model``'s log (``head``), then up to
        ``read.limit + 1`` records of ``self._span(read, head)`` in log order, and return
        ``self._page(read, span, records, their positions)``."""

    def _span(self, read: LogRead, head: int) -> LogSpan:
        """The positions ``read`` covers in a log that ends at ``head``."""
        start = self._decode(read.since, head)
        end = head if read.until is None else min(self._decode(read.until, head), head)
        return LogSpan(start, end)

    def _page(
        self, read: LogRead, span: LogSpan, docs: Sequence[StoredDoc], positions: Sequence[int]
    ) -> LogPage:
        """The page of ``docs`` (read in log order, one more than the limit if more remain)."""
        kept, last, has_more = page_of(docs, positions, read.limit, span.start, span.end)
        return LogPage(list(kept), self._encode(last), has_more)

    def _encode(self, position: int) -> str:
        return encode_checkpoint(self.store_id, position)

    def _decode(self, checkpoint: str | None, head: int) -> int:
        return decode_checkpoint(checkpoint, self.store_id, head)

    @abc.abstractmethod
    async def transact(
        self, model: str, ids: Sequence[str], decide: Decide[T]
    ) -> tuple[list[StoredDoc], T]:
        """Read the records and conflicts of ``ids``, let ``decide`` choose the writes, and
        commit them atomically with their change entries. Returns the written records
        (with their checkpoints) and ``decide``'s result."""

    @abc.abstractmethod
    async def conflicts(self, model: str, where: Filter | None = None) -> list[StoredConflict]:
        """Recorded, unresolved conflicts of ``model``, by id; ``where`` applies to the
        target side's document."""

    #: Documents per page that ``watch`` reads.
    watch_page = 1000
    #: How long ``watch`` waits on ``write_signal`` before looking again (None: no limit,
    #: for stores whose signal also fires for other processes' writes).
    poll_interval: float | None = None

    @abc.abstractmethod
    def write_signal(self, model: str) -> asyncio.Event:
        """An event that is set once a write to ``model`` may have entered the log after
        this call; a fresh one for each wait."""

    async def watch(self, model: str, since: str) -> AsyncIterator[LogPage]:
        """Pages of ``model``'s changes after ``since``, as they are committed by any
        process, in log order, forever. Each page's checkpoint continues the previous; a
        page may be empty when only the checkpoint moved."""
        cursor = since
        while True:
            written = self.write_signal(model)  # before reading: no write slips between
            page = await self.changes(model, cursor, None, self.watch_page)
            if page.docs or page.checkpoint != cursor:
                cursor = page.checkpoint
                yield page
            if not page.has_more:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await written.wait()
