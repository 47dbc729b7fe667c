"""Conflicts: recorded when concurrent edits cannot be merged, listed, and resolved.

LoopBack's ``Conflict.resolveUsingSource`` / ``resolveUsingTarget`` / ``resolveManually``:
``resolve_conflict`` writes the chosen side (or a document given by hand) as a new version
that descends from both sides, so the next replication does not raise the conflict again.
"""

from __future__ import annotations

from ..errors import BadInput, NotFound
from ..filters import Filter
from ..models import Document
from ..stores.base import Store, StoredConflict, StoredDoc, WriteBatch
from .revisions import sid
from .tenancy import TenantScope
from .types import Conflict, Resolution
from .versions import Incoming, Versioning, live


def record_conflict(inc: Incoming, cur: StoredDoc, fields: list[str]) -> StoredConflict:
    """The conflict between the incoming version and this side's record, as stored."""
    return StoredConflict(
        model_id=inc.model_id,
        source_rev=inc.rev,
        target_rev=cur.rev,
        source_data=inc.content,
        target_data=live(cur),
        match_data=cur.data,
        fields=fields,
        source_prev=inc.prev,
        source_clock=inc.clock,
        source_ancestors=inc.ancestors,
    )


def conflict_of(c: StoredConflict, scope: TenantScope) -> Conflict:
    """A stored conflict as the caller of ``scope`` sees it."""
    return Conflict(
        scope.model.name,
        scope.own_id(c.model_id),
        c.source_rev,
        c.target_rev,
        scope.shown_or_none(c.source_data),
        scope.shown_or_none(c.target_data),
        c.fields,
    )


async def list_conflicts(store: Store, scope: TenantScope, where: Filter | None) -> list[Conflict]:
    """Recorded, unresolved conflicts in ``scope`` (``where`` already narrowed to it)."""
    stored = await store.conflicts(scope.model.name, where)
    return [conflict_of(c, scope) for c in stored]


async def resolve_conflict(
    store: Store, versioning: Versioning, own_id: str, using: Resolution, data: object = None
) -> Document | None:
    """Settle a recorded conflict: SOURCE writes the source side, TARGET keeps this side
    (marked as winning), MANUAL writes ``data`` (the whole document). Returns the resulting
    document (None when the result is a deletion)."""
    scope = versioning.scope
    content: Document | None = None
    if using is Resolution.MANUAL:
        if data is None:
            raise BadInput("A MANUAL resolution needs data")
        content = scope.claim(scope.model.validate(data, own_id))
    model_id = scope.key(own_id)

    def decide(
        current: dict[str, StoredDoc], pending: dict[str, StoredConflict]
    ) -> tuple[WriteBatch, Document | None]:
        conflict = pending.get(model_id)
        cur = current.get(model_id)
        if conflict is None or (cur is not None and not scope.visible(cur.data)):
            raise NotFound(f"No conflict is recorded for {scope.model.name} {own_id!r}")
        source = Incoming(
            model_id=model_id,
            content=conflict.source_data,
            rev=conflict.source_rev,
            prev=conflict.source_prev,
            sid=sid(conflict.source_rev, conflict.source_prev),
            ancestors=conflict.source_ancestors,
            clock=conflict.source_clock,
        )
        if using is Resolution.SOURCE:
            result = conflict.source_data
        elif using is Resolution.TARGET:
            result = None if cur is None else live(cur)
        else:
            result = content
        # A resolution is a new write: every field is stamped now.
        clock = versioning.stamp(result, {}, None)
        new = versioning.successor(model_id, cur, result, clock, source)
        return WriteBatch([new], [], [model_id]), live(new)

    _, result = await store.transact(scope.model.name, [model_id], decide)
    return scope.shown_or_none(result)
