"""Push: the write of RxDB's replication protocol, settled against the master state.

A web app pushes rows of ``newDocumentState`` with the ``assumedMasterState`` it based
them on. For each row the master (this server's current state of the document) is compared
with the assumed state as validated content, never by a client-computed hash:

- the new state already equals the master: nothing to do (a retried push);
- the assumed state equals the master: the new state is written, an ordinary write;
- otherwise the master moved on: a three-way, per-field merge with the assumed state as
  its base; when every field both sides changed has an automatic strategy the merge is
  written, else nothing is written and nothing is recorded (the pusher resolves it).

The answer lists the master state, after the push, of every row that was not written
exactly as sent (merged, kept or refused): the pusher takes those as its conflicts. A row
that cannot be used (unknown field, wrong type, an id the caller may not use) is refused
alone, its master state returned (a tombstone when there is none) so the pusher reverts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Forbidden, InvalidDocument
from ..models import Document
from ..stores.base import Store, StoredConflict, StoredDoc, WriteBatch
from .changelog import state_of
from .merge import incoming_wins_deletion, merge_documents
from .revisions import rev_of
from .tenancy import TenantScope
from .types import DocumentState
from .versions import Versioning

log = logging.getLogger(__name__)

DELETED_FIELD = "_deleted"


@dataclass(frozen=True, slots=True)
class PushRow:
    """One row as the client sent it: plain JSON objects, ``_deleted`` included."""

    new: Any
    assumed: Any = None  # None: the client believes the document does not exist
    refused: str | None = None  # why the row was refused before it got here (its shape)


@dataclass(frozen=True, slots=True)
class _Row:
    """A usable row: stored id, and the new and assumed contents validated (None: no
    document, or a deletion)."""

    key: str
    new: Document | None
    assumed: Document | None


@dataclass(frozen=True, slots=True)
class _Refused:
    key: str | None  # None: the row names no id this caller may use
    own_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Pushed:
    """What a push did: the master states to send back, and counts of what became of
    the rows (``written`` as sent, ``merged``, ``kept``: a conflict left to the pusher,
    ``refused``)."""

    masters: list[DocumentState]
    written: int = 0
    merged: int = 0
    kept: int = 0
    refused: int = 0


def _content(raw: Any, own_id: str | None, scope: TenantScope) -> Document | None:
    """A pushed document validated and claimed for the scope; None for a deletion."""
    if not isinstance(raw, dict):
        raise InvalidDocument(f"{scope.model.name}: a pushed document must be a JSON object")
    deleted = raw.get(DELETED_FIELD)
    if deleted is not None and not isinstance(deleted, bool):
        raise InvalidDocument(f"{scope.model.name}.{DELETED_FIELD} must be a Boolean")
    if deleted:
        return None
    fields = {k: v for k, v in raw.items() if k != DELETED_FIELD}
    content = scope.claim(scope.model.validate(fields, own_id))
    rev_of(content)  # refuses content without a canonical form now, not mid-transaction
    return content


def prepare(row: PushRow, scope: TenantScope) -> _Row | _Refused:
    new = row.new
    own_id = new.get("id") if isinstance(new, dict) else None
    if not isinstance(own_id, str) or not own_id:
        return _Refused(None, None, row.refused or "a pushed document needs a non-empty id")
    key = scope.key(own_id)
    if row.refused is not None:
        return _Refused(key, own_id, row.refused)
    try:
        content = _content(new, own_id, scope)
        if content is None:
            scope.claim({"id": own_id})  # an id this caller may use at all
        assumed = None if row.assumed is None else _content(row.assumed, own_id, scope)
    except (InvalidDocument, Forbidden) as exc:
        return _Refused(key, own_id, exc.message)
    return _Row(key, content, assumed)


def _master(cur: StoredDoc | None) -> Document | None:
    return None if cur is None or cur.deleted else cur.data


@dataclass(frozen=True, slots=True)
class Write:
    """Write ``record``: the pushed state, or the merge of it with the master."""

    record: StoredDoc


@dataclass(frozen=True, slots=True)
class AlreadyThere:
    """The master already is the pushed state (a retried push): nothing to write."""


@dataclass(frozen=True, slots=True)
class Kept:
    """A conflict no strategy settles: the master stays, the pusher resolves it."""


def settle(row: _Row, cur: StoredDoc | None, versioning: Versioning) -> Write | AlreadyThere | Kept:
    """What becomes of ``row`` against the document's current record."""
    master = _master(cur)
    if row.new == master:
        return AlreadyThere()
    if row.assumed == master:
        clock = versioning.stamp(row.new, {}, cur)
        return Write(versioning.successor(row.key, cur, row.new, clock, None))
    # The master moved on since the state the pusher based its row on. The pusher's
    # edits carry no time (RxDB sends none), so they are not taken for later writes than
    # the master's: where both sides changed a field, LATEST keeps the master's value; a
    # field only the pusher changed takes its value; and a row pushed again from an old
    # state (a client that lost track of what it had pulled) cannot undo newer edits.
    model = versioning.model
    if row.new is not None and master is not None:
        assert cur is not None
        merged = merge_documents(model, row.assumed, row.new, master, {}, cur.clock)
        if merged.unresolved or merged.data == master:
            return Kept()  # a conflict for the pusher, or nothing of its row to keep
        # Written now: the values that differ from the master's get new stamps.
        clock = versioning.stamp(merged.data, {}, cur)
        return Write(versioning.successor(row.key, cur, merged.data, clock, None))
    # One side deleted the document while the other edited it (or this side never had
    # the document the pusher edited: then the push is written).
    if cur is not None and not incoming_wins_deletion(model, row.new is None, {}, cur.clock):
        return Kept()
    clock = versioning.stamp(row.new, {}, cur)
    return Write(versioning.successor(row.key, cur, row.new, clock, None))


def decide(
    rows: Sequence[_Row | _Refused],
    versioning: Versioning,
    current: Mapping[str, StoredDoc],
    pending: Mapping[str, StoredConflict],
) -> tuple[WriteBatch, Pushed]:
    """Settle the rows against the current records (a store's ``Decide``)."""
    scope = versioning.scope
    records = dict(current)
    writes: dict[str, StoredDoc] = {}
    masters: list[DocumentState] = []
    counts = {"written": 0, "merged": 0, "kept": 0, "refused": 0}
    for row in rows:
        cur = records.get(row.key) if row.key is not None else None
        if cur is not None and not scope.visible(cur.data):
            cur = None
        if isinstance(row, _Refused):
            counts["refused"] += 1
            masters.append(_state(cur, row.own_id, scope))
            continue
        outcome = settle(row, cur, versioning)
        if isinstance(outcome, Write):
            record = writes[row.key] = records[row.key] = outcome.record
            if _master(record) == row.new:
                counts["written"] += 1
            else:
                counts["merged"] += 1
                masters.append(state_of(record, scope))
        elif isinstance(outcome, AlreadyThere):
            counts["written"] += 1
        else:
            counts["kept"] += 1
            masters.append(_state(cur, scope.own_id(row.key), scope))
    return WriteBatch(list(writes.values())), Pushed(masters, **counts)


def _state(cur: StoredDoc | None, own_id: str | None, scope: TenantScope) -> DocumentState:
    """The master state of a document: its record, or a tombstone when there is none."""
    if cur is not None:
        return state_of(cur, scope)
    return DocumentState({"id": own_id or ""}, deleted=True)


async def push(
    store: Store, versioning: Versioning, rows: Sequence[PushRow], chunk_size: int
) -> Pushed:
    """Settle ``rows``, one transaction per chunk."""
    scope = versioning.scope
    masters: list[DocumentState] = []
    totals = {"written": 0, "merged": 0, "kept": 0, "refused": 0}
    for start in range(0, len(rows), chunk_size):
        prepared = [prepare(r, scope) for r in rows[start : start + chunk_size]]
        for r in prepared:
            if isinstance(r, _Refused):
                log.warning("push %s %r refused: %s", scope.model.name, r.own_id, r.reason)
        ids = list(dict.fromkeys(r.key for r in prepared if r.key is not None))
        _, pushed = await store.transact(
            scope.model.name, ids, functools.partial(decide, prepared, versioning)
        )
        masters.extend(pushed.masters)
        for name in totals:
            totals[name] += getattr(pushed, name)
    return Pushed(masters, **totals)
