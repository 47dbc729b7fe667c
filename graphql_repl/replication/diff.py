"""LoopBack's ``diff``, ancestry-aware: which remote changes are deltas to apply here and
which conflict with a change made here since a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import BadInput
from ..filters import parse_filter
from ..stores.base import Store
from .revisions import Relation, sid
from .tenancy import TenantScope
from .types import Change, ChangeInput, ChangeType, Conflict, Diff
from .versions import ancestors_of, live, relation_to


def check_change_inputs(changes: Sequence[ChangeInput]) -> None:
    for i, c in enumerate(changes):
        if not c.model_id:
            raise BadInput(f"changes[{i}]: modelId must not be empty")
        if (c.type is ChangeType.DELETE) != (c.rev is None):
            raise BadInput(f"changes[{i}]: a DELETE has no rev, a CREATE or UPDATE needs one")


async def diff(
    store: Store, scope: TenantScope, since: str | None, changes: Sequence[ChangeInput]
) -> Diff:
    """A remote change is a delta unless this side changed the same document after
    ``since`` in a way the remote change is not based on: then it is a conflict."""
    check_change_inputs(changes)
    name = scope.model.name
    ids = list(dict.fromkeys(c.model_id for c in changes))
    local = {
        k: d
        for k, d in (await store.get(name, [scope.key(i) for i in ids])).items()
        if scope.visible(d.data)
    }
    where = scope.narrow(parse_filter(scope.model, {"id": {"inq": ids}}))
    page = await store.changes(name, since, where, max(len(ids), 1))
    changed_since = {d.model_id for d in page.docs}
    deltas: list[Change] = []
    conflicts: list[Conflict] = []
    for c in changes:
        key = scope.key(c.model_id)
        cur = local.get(key)
        ancestors = ancestors_of(c.prev, c.revs)
        relation = relation_to(cur, sid(c.rev, c.prev), ancestors, {})
        if relation in (Relation.SAME, Relation.STALE):
            continue
        if relation is Relation.DIVERGED and key in changed_since:
            assert cur is not None
            target = scope.shown_or_none(live(cur))
            conflicts.append(Conflict(name, c.model_id, c.rev, cur.rev, None, target, []))
        else:
            deltas.append(
                Change(
                    name, c.model_id, c.type, c.rev, c.prev, page.checkpoint, None, {}, ancestors
                )
            )
    return Diff(deltas, conflicts)
