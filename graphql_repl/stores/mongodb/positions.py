"""Log positions: the rule every sequencer applies alike, and the log-wide reads of recovery.

A version's position is its place in the change stream: counting from a saved state whose
watermark is ``pos`` and whose resume point is the event that got ``pos``, the n-th write
event after it gets ``pos + n``. So positions are unique and follow stream order even where
events share a cluster time (the operations of one multi-document transaction; two shards
stamping the same cluster time, which mongos orders by document key), and every process
that reads the stream from the same saved state derives the same positions: a standby that
takes over assigns what the holder would have, and a holder that resumes after losing its
lease can only write what the new holder writes anyway.

Earlier stores (schema 1) used the event's cluster time itself as the position, which ties
in those cases and leaves no room for a tie-break in 64 bits. Their positions stay valid:
counting resumes above the highest of them (``highest_position``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

Row = dict[str, Any]


class Version(NamedTuple):
    """A version of a document: its ``_id`` (``<model>\\x00<id>``) and its ``ver``."""

    key: str
    ver: str

    @property
    def model(self) -> str:
        return self.key.partition("\x00")[0]


def version_of(event: Row) -> Version | None:
    """The version a change event wrote, or None for other events (the sequencer's state)."""
    # A replace is reported with its document in fullDocument (MongoDB) or in documentKey
    # (mongo-java-server, which calls it an update).
    written = event.get("fullDocument") or event.get("documentKey") or {}
    if "ver" in written and written.get("model"):
        return Version(written["_id"], written["ver"])
    return None


def count(events: list[Row], last: int) -> tuple[list[tuple[Version, int]], int]:
    """The positions of the versions ``events`` wrote, counting on from ``last`` (the
    position of the last write event before them); returns them and the new ``last``.
    A version reported twice gets two positions; the first one written is kept."""
    positions = []
    for event in events:
        version = version_of(event)
        if version is not None:
            last += 1
            positions.append((version, last))
    return positions, last


def assignment(version: Version, pos: int) -> UpdateOne:
    """The write that gives ``version`` its position, unless it has one or was replaced."""
    return UpdateOne(
        {"_id": version.key, "model": version.model, "ver": version.ver, "seq": None},
        {"$set": {"seq": pos}},
    )


async def highest_position(docs: AsyncCollection[Row]) -> int:
    """The highest position any document has (0: none), by model on the (model, seq) index."""
    highest = 0
    for model in await docs.distinct("model"):
        if model:  # "" is the sequencer's state
            row = await docs.find_one({"model": model}, {"seq": 1}, sort=[("seq", -1)])
            if row is not None and row.get("seq") is not None:
                highest = max(highest, int(row["seq"]))
    return highest


async def unsequenced(docs: AsyncCollection[Row]) -> list[Version]:
    """Every version still without a position, by model and id."""
    found: list[Version] = []
    for model in sorted(await docs.distinct("model")):
        if model:
            cursor = docs.find({"model": model, "seq": None}, {"ver": 1}).sort("_id")
            found += [Version(row["_id"], row["ver"]) async for row in cursor]
    return found
