"""The sequencer's state: one document, kept in the ``documents`` collection.

It holds the log's end (the watermark), where the change stream resumes, and the lease
that makes one process the sequencer. It lives beside the documents rather than in
``meta`` for two reasons: the holder writes it in the same ordered bulk write as the
positions it covers (one round trip per batch, and it lands only after them), and its
writes come through the change stream every process follows, so standbys learn the log's
end and the lease's renewals without polling. Its ``model`` is "" so that no model's query
matches it, and it has no ``ver``, so it is never taken for a version. It is only ever
replaced whole (so that MongoDB reports it with its content).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Timestamp
from pymongo.asynchronous.collection import AsyncCollection

Row = dict[str, Any]

STATE_ID = "\x00sequencer"
#: The state's key: with ``model``, the full shard key of the documents collection.
STATE_KEY: Mapping[str, str] = {"_id": STATE_ID, "model": ""}


@dataclass(frozen=True, slots=True)
class LogState:
    """The saved state of the change log and of its sequencer."""

    #: The watermark: every version at or below it has its position, and the last write
    #: event up to the resume point has exactly this one.
    pos: int = 0
    #: Resume after this event's token ...
    token: Mapping[str, Any] | None = None
    #: ... or, without a token, at this cluster time (inclusive).
    start: Timestamp | None = None
    #: Changes whenever counting restarts (a new store, a migrated one, a stream that could
    #: not resume): a process counting in another epoch must re-base on the saved state.
    epoch: str = ""
    #: The lease: its holder (None: free) and the term, raised by every takeover.
    holder: str | None = None
    term: int = 0
    #: Raised by every write of the state: renewals are seen as changes of it.
    beat: int = 0
    #: When the lease runs out by the holder's clock, for people and tools reading the
    #: document; processes judge expiry by their own clocks (see ``lease``).
    expires: datetime | None = None

    @property
    def resumable(self) -> bool:
        """Whether the state says where the stream continues (else a holder must recover)."""
        return self.token is not None or self.start is not None

    def fields(self) -> Row:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def row(self) -> Row:
        """The state as the document that replaces the stored one."""
        return {**STATE_KEY, **self.fields()}

    def next(self, **changes: Any) -> LogState:
        """The state written next: ``changes`` applied, ``beat`` raised."""
        return dataclasses.replace(self, beat=self.beat + 1, **changes)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LogState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


def state_of(event: Row) -> LogState | None:
    """The state a change event wrote, or None for other events."""
    written = event.get("fullDocument") or event.get("documentKey") or {}
    return LogState.from_row(written) if written.get("_id") == STATE_ID else None


def fence(state: LogState) -> Row:
    """The filter of a holder's write of the state: it matches only while ``state``'s
    holder still holds the lease in ``state``'s term."""
    return {**STATE_KEY, "holder": state.holder, "term": state.term}


async def read_state(docs: AsyncCollection[Row]) -> LogState | None:
    row = await docs.find_one(dict(STATE_KEY))
    return None if row is None else LogState.from_row(row)


async def create_state(docs: AsyncCollection[Row], state: LogState) -> None:
    """Store ``state`` unless a state is stored."""
    await docs.update_one(dict(STATE_KEY), {"$setOnInsert": state.fields()}, upsert=True)


async def watermark(docs: AsyncCollection[Row]) -> int:
    """The end of the log: every version at or below it has its position."""
    row = await docs.find_one(dict(STATE_KEY), {"pos": 1})
    return int(row["pos"]) if row else 0
