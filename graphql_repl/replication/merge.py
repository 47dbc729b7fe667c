"""Three-way, per-field merge of two concurrent versions of a document.

A field only one side changed since the base takes that side's value; a field both sides
changed follows its strategy. Without a base every differing field counts as changed by
both. Every automatic strategy is symmetric in its two sides (LATEST, MAX, MIN, UNION;
SOURCE_WINS and TARGET_WINS by definition are not), so replicas that merge the same two
versions in either direction reach the same document and rev.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import Custom, Document, FieldConflict, Model, Strategy
from .clocks import DELETED_KEY, field_stamps
from .revisions import canonical
from .types import Clock

_ABSENT = object()


@dataclass(slots=True)
class MergeResult:
    data: Document
    clock: Clock
    both_changed: list[str]  # fields both sides changed
    unresolved: list[str]  # of those, the ones whose strategy is MANUAL


def merge_documents(
    model: Model,
    base: Document | None,
    source: Document,
    target: Document,
    source_clock: Clock,
    target_clock: Clock,
) -> MergeResult:
    data: Document = {"id": target["id"]}
    clock: Clock = {}
    both: list[str] = []
    unresolved: list[str] = []
    # Clock keys count too: a field one side removed is absent from its data but stamped.
    names = source.keys() | target.keys() | source_clock.keys() | target_clock.keys()
    for name in sorted(n for n in names if n != "id" and not n.startswith("_")):
        s, t = source.get(name), target.get(name)
        ss, ts = source_clock.get(name), target_clock.get(name)
        stamp = max(ss or "", ts or "")
        if s == t:
            value = s
        elif base is not None and base.get(name) == s:
            value, stamp = t, ts or ""  # the stamp of the value kept, not a later one
        elif base is not None and base.get(name) == t:
            value, stamp = s, ss or ""
        else:
            both.append(name)
            value = _resolve(model, name, base.get(name) if base else None, s, t, ss, ts)
            if value is _ABSENT:
                unresolved.append(name)
                value = t
        if value is not None:
            data[name] = value
        if stamp:
            clock[name] = stamp
    return MergeResult(data, clock, both, unresolved)


def _resolve(
    model: Model, name: str, base: Any, s: Any, t: Any, ss: str | None, ts: str | None
) -> Any:
    strategy = model.strategy(name)
    if isinstance(strategy, Custom):
        return strategy.merge(FieldConflict(name, base, s, t, ss, ts))
    if strategy is Strategy.SOURCE_WINS:
        return s
    if strategy is Strategy.TARGET_WINS:
        return t
    if strategy is Strategy.LATEST:
        return s if _newer(s, ss, t, ts) else t
    if strategy in (Strategy.MAX, Strategy.MIN):
        if s is None or t is None:
            return t if s is None else s
        try:
            pick_s = s > t if strategy is Strategy.MAX else s < t
        except TypeError:
            pick_s = (canonical(s) > canonical(t)) == (strategy is Strategy.MAX)
        return s if pick_s else t
    if strategy is Strategy.UNION:
        return _union(base, s, t, _newer(s, ss, t, ts))
    return _ABSENT


def _newer(s: Any, ss: str | None, t: Any, ts: str | None) -> bool:
    """Whether the source value is the later write; equal stamps fall back to content."""
    if (ss or "") != (ts or ""):
        return (ss or "") > (ts or "")
    return canonical(s) > canonical(t)


def _union(base: Any, s: Any, t: Any, source_first: bool) -> list[Any]:
    """Both lists' items, order kept, no repeats; an item either side removed since the
    base stays removed. The later-written list leads, so both directions agree."""
    removed: set[bytes] = set()
    s_list = s if isinstance(s, list) else []
    t_list = t if isinstance(t, list) else []
    if isinstance(base, list):
        s_keys = {canonical(v) for v in s_list}
        t_keys = {canonical(v) for v in t_list}
        removed = {k for k in map(canonical, base) if k not in s_keys or k not in t_keys}
    out: list[Any] = []
    seen = set(removed)
    for item in (s_list + t_list) if source_first else (t_list + s_list):
        key = canonical(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def delete_wins(model: Model, delete_clock: Clock, live_clock: Clock) -> bool | None:
    """Settle a deletion concurrent with an edit by the model's default strategy.

    Returns None when the model's default is not LATEST (the caller applies SOURCE_WINS /
    TARGET_WINS itself, or reports a conflict). Under LATEST the deletion wins when it was
    stamped after every field of the edited version.
    """
    if model.default_strategy is not Strategy.LATEST:
        return None
    deleted = delete_clock.get(DELETED_KEY, "")
    edited = max(field_stamps(live_clock).values(), default="")
    return deleted >= edited


def incoming_wins_deletion(
    model: Model, incoming_deletes: bool, incoming_clock: Clock, current_clock: Clock
) -> bool | None:
    """Whether the incoming side wins when one side deleted the document and the other
    edited it: under LATEST the later of the two, else the model's default strategy
    (SOURCE_WINS: the incoming side, TARGET_WINS: the current one); None: a conflict."""
    if incoming_deletes:
        verdict = delete_wins(model, incoming_clock, current_clock)
    else:
        lost = delete_wins(model, current_clock, incoming_clock)
        verdict = None if lost is None else not lost
    if verdict is None and model.default_strategy is Strategy.SOURCE_WINS:
        return True
    if verdict is None and model.default_strategy is Strategy.TARGET_WINS:
        return False
    return verdict
