"""The bulk-update engine: LoopBack's ``bulkUpdate``, settled atomically per document.

Three pure steps and a driver. ``prepare`` validates an update into an ``Incoming``
version (or ``Rejected``) before any transaction; inside the store's transaction,
``decide`` runs ``settle`` on each against the document's current record, and ``settle``
tells what happens to it: ``Applied`` (this side was at its ``prev``, or lacked the
document), ``Unchanged`` (this side already has it, or a later version), ``Merged``
(concurrent edits merged field by field) or ``Conflicted`` (a field no strategy could merge:
nothing written, the conflict recorded). ``bulk_update`` drives them chunk by chunk.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import Forbidden, InvalidDocument
from ..stores.base import Store, StoredConflict, StoredDoc, WriteBatch
from .clocks import WRITTEN_KEY, is_stamp
from .conflicts import conflict_of, record_conflict
from .merge import incoming_wins_deletion, merge_documents
from .revisions import Relation, rev_of, sid
from .tenancy import TenantScope
from .types import ChangeType, Conflict, Update, UpdateResult, UpdateStatus
from .versions import (
    Incoming,
    Versioning,
    ancestors_of,
    descends,
    learns_ancestry,
    live,
    relation_to,
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An update that cannot be applied as sent (invalid, or outside the caller's scope)."""

    model_id: str
    error: str


@dataclass(frozen=True, slots=True)
class Applied:
    record: StoredDoc


@dataclass(frozen=True, slots=True)
class Unchanged:
    """This side already has the version; ``record`` is set when it learns ancestry."""

    record: StoredDoc | None = None


@dataclass(frozen=True, slots=True)
class Merged:
    record: StoredDoc


@dataclass(frozen=True, slots=True)
class Conflicted:
    conflict: StoredConflict


Outcome = Applied | Unchanged | Merged | Conflicted

_STATUS = {
    Applied: UpdateStatus.APPLIED,
    Unchanged: UpdateStatus.UNCHANGED,
    Merged: UpdateStatus.MERGED,
    Conflicted: UpdateStatus.CONFLICT,
}


@dataclass(frozen=True, slots=True)
class Settled:
    """What ``decide`` settled for one chunk: a result per update, in stored ids, and the
    conflicts it recorded."""

    results: list[UpdateResult]
    conflicts: list[Conflict]


def prepare(update: Update, scope: TenantScope) -> Incoming | Rejected:
    """``update`` validated, with its rev and ancestry worked out (in stored ids)."""
    own_id = update.model_id if isinstance(update.model_id, str) else ""
    model_id = scope.key(own_id) if own_id else ""
    given = update.clock
    clock = {k: v for k, v in given.items() if is_stamp(v)} if isinstance(given, dict) else {}
    ancestors = ancestors_of(update.prev, update.revs)
    try:
        if not model_id:
            raise InvalidDocument("modelId must not be empty")
        if update.type is ChangeType.DELETE:
            return Incoming(
                model_id=model_id,
                content=None,
                rev=None,
                prev=update.prev,
                sid=sid(None, update.prev),
                ancestors=ancestors,
                clock=clock,
            )
        if update.data is None:
            raise InvalidDocument(f"a {update.type.value} needs the whole document in data")
        content = scope.claim(scope.model.validate(update.data, own_id))
        rev = rev_of(content)
    except (InvalidDocument, Forbidden) as exc:
        return Rejected(model_id, exc.message)
    return Incoming(
        model_id=model_id,
        content=content,
        rev=rev,
        prev=update.prev,
        sid=rev,
        ancestors=ancestors,
        clock=clock,
    )


def settle(inc: Incoming, cur: StoredDoc | None, versioning: Versioning) -> Outcome:
    """What becomes of ``inc`` against the current record ``cur``."""
    relation = relation_to(cur, inc.sid, inc.ancestors, inc.clock)
    if relation in (Relation.SAME, Relation.STALE):
        assert cur is not None
        if learns_ancestry(cur, inc, versioning.history_limit):
            # Same content, but the incoming version knows history this record lacks
            # (e.g. it is a conflict's resolution): keep it, so that the versions it
            # descends from are recognised as stale when they arrive later, and a
            # conflict recorded here against one of them is settled.
            written = max(cur.clock.get(WRITTEN_KEY, ""), inc.clock.get(WRITTEN_KEY, ""))
            clock = {**cur.clock, WRITTEN_KEY: written}
            return Unchanged(versioning.successor(inc.model_id, cur, live(cur), clock, inc))
        return Unchanged()
    if relation is Relation.FAST_FORWARD:
        # A deletion of a document this side never had is still recorded (as a
        # tombstone), so that it is relayed to replicas that do have the document.
        clock = versioning.stamp(inc.content, inc.clock, cur)
        return Applied(versioning.successor(inc.model_id, cur, inc.content, clock, inc))
    assert cur is not None  # a missing document is always a fast-forward
    if inc.content is not None and not cur.deleted:
        return _merge(inc, cur, versioning)
    return _settle_deletion(inc, cur, versioning)


def _merge(inc: Incoming, cur: StoredDoc, versioning: Versioning) -> Merged | Conflicted:
    """Concurrent edits of a live document, merged field by field."""
    assert inc.content is not None
    base = next((cur.bases[a] for a in inc.ancestors if a in cur.bases), None)
    # ``cur`` is not the incoming version's predecessor: a field the incoming version
    # lacks was not removed by it just now (only a stamp it sent can say so).
    clock = {
        k: v
        for k, v in versioning.stamp(inc.content, inc.clock, cur).items()
        if k in inc.content or k in inc.clock
    }
    model = versioning.model
    merged = merge_documents(model, base, inc.content, cur.data, clock, cur.clock)
    if merged.unresolved:
        return Conflicted(record_conflict(inc, cur, merged.both_changed))
    merged.clock[WRITTEN_KEY] = versioning.clock.now()
    return Merged(versioning.successor(inc.model_id, cur, merged.data, merged.clock, inc))


def _settle_deletion(inc: Incoming, cur: StoredDoc, versioning: Versioning) -> Merged | Conflicted:
    """One side deleted the document while the other edited it."""
    incoming_clock = versioning.stamp(inc.content, inc.clock, cur)
    deletes = inc.content is None
    verdict = incoming_wins_deletion(versioning.model, deletes, incoming_clock, cur.clock)
    if verdict is None:
        return Conflicted(record_conflict(inc, cur, []))
    if verdict:  # the incoming side wins
        return Merged(versioning.successor(inc.model_id, cur, inc.content, incoming_clock, inc))
    # This side's version wins, as a new version that includes the incoming one.
    clock = {**cur.clock, WRITTEN_KEY: versioning.clock.now()}
    return Merged(versioning.successor(inc.model_id, cur, live(cur), clock, inc))


def decide(
    prepared: Sequence[Incoming | Rejected],
    versioning: Versioning,
    current: Mapping[str, StoredDoc],
    pending: Mapping[str, StoredConflict],
) -> tuple[WriteBatch, Settled]:
    """Settle a chunk of prepared updates against the current records (a store's
    ``Decide``: no side effects). Later updates of a document see the earlier ones'."""
    records = dict(current)
    writes: dict[str, StoredDoc] = {}
    recorded: dict[str, StoredConflict] = {}
    results: list[UpdateResult] = []
    conflicts: list[Conflict] = []
    scope = versioning.scope
    for inc in prepared:
        cur = records.get(inc.model_id)
        outside = cur is not None and not scope.visible(cur.data)
        if isinstance(inc, Rejected):
            shown = None if outside else cur
            results.append(_result(inc.model_id, UpdateStatus.REJECTED, shown, inc.error))
            continue
        if outside:
            # Only an unscoped caller's id can name another tenant's document, and its
            # own claim already refuses that; kept as a guard.
            error = f"{scope.model.name} {inc.model_id!r} is outside this token's tenant"
            results.append(UpdateResult(inc.model_id, UpdateStatus.REJECTED, error=error))
            continue
        outcome = settle(inc, cur, versioning)
        status = _STATUS[type(outcome)]
        if isinstance(outcome, Conflicted):
            recorded[inc.model_id] = outcome.conflict
            conflicts.append(conflict_of(outcome.conflict, scope))
        elif outcome.record is not None:
            cur = writes[inc.model_id] = records[inc.model_id] = outcome.record
            recorded.pop(inc.model_id, None)
        results.append(_result(inc.model_id, status, cur))
    settled = [
        model_id
        for model_id, c in pending.items()
        if model_id in writes and descends(writes[model_id], sid(c.source_rev, c.source_prev))
    ]
    batch = WriteBatch(list(writes.values()), list(recorded.values()), settled)
    return batch, Settled(results, conflicts)


def _result(
    model_id: str, status: UpdateStatus, cur: StoredDoc | None, error: str | None = None
) -> UpdateResult:
    """An update's result, with the document's state after it (whatever the status)."""
    if cur is None:
        return UpdateResult(model_id, status, None, None, error)
    return UpdateResult(model_id, status, cur.rev, live(cur), error)


async def bulk_update(
    store: Store, versioning: Versioning, updates: Sequence[Update], chunk_size: int
) -> Settled:
    """Prepare, decide and settle ``updates``, one transaction per chunk; results in the
    caller's ids."""
    results: list[UpdateResult] = []
    conflicts: list[Conflict] = []
    scope = versioning.scope
    for start in range(0, len(updates), chunk_size):
        prepared = [prepare(u, scope) for u in updates[start : start + chunk_size]]
        incoming = [i for i in prepared if isinstance(i, Incoming)]
        versioning.clock.observe(s for i in incoming for s in i.clock.values())
        # Rejected updates are read too: their results carry the document's state.
        ids = list(dict.fromkeys(i.model_id for i in prepared if i.model_id))
        _, settled = await store.transact(
            scope.model.name, ids, functools.partial(decide, prepared, versioning)
        )
        results.extend(settled.results)
        conflicts.extend(settled.conflicts)
    if scope.tenant is not None:
        results = [
            UpdateResult(
                scope.own_id(r.model_id), r.status, r.rev, scope.shown_or_none(r.data), r.error
            )
            for r in results
        ]
    return Settled(results, conflicts)
