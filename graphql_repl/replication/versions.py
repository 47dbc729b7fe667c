"""Versions of a document: how a new record succeeds the current one.

Every write, whatever path it comes by (a replicated update, a conflict's resolution, a
typed web-app write), ends in ``Versioning.successor``: the new record's rev, prev, clock,
ancestry (joined from the current record's and the incoming version's) and the merge bases
kept for later three-way merges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Document, Model
from ..stores.base import StoredDoc
from .clocks import DELETED_KEY, WRITTEN_KEY, HybridLogicalClock
from .revisions import Relation, join_ancestors, relate, rev_of, sid
from .tenancy import TenantScope
from .types import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    """A version arriving from elsewhere, validated, with its rev and ancestry worked out
    (``model_id`` is the stored id)."""

    model_id: str
    content: Document | None  # None for a deletion
    rev: str | None
    prev: str | None
    sid: str
    ancestors: list[str]
    clock: Clock


def live(doc: StoredDoc) -> Document | None:
    """A record's content; None for a tombstone."""
    return None if doc.deleted else doc.data


def ancestors_of(prev: str | None, revs: Sequence[str] | None) -> list[str]:
    """The ancestry a sender gave (``revs``), or just its ``prev``."""
    if revs:
        return [r for r in revs if isinstance(r, str)]
    return [prev] if prev else []


def relation_to(
    cur: StoredDoc | None, remote_sid: str, remote_ancestors: Sequence[str], remote_clock: Clock
) -> Relation:
    """How a remote version relates to this side's record of the document."""
    if cur is None:
        return relate(None, [], remote_sid, remote_ancestors)
    return relate(
        sid(cur.rev, cur.prev),
        cur.ancestors,
        remote_sid,
        remote_ancestors,
        cur.clock.get(WRITTEN_KEY, ""),
        remote_clock.get(WRITTEN_KEY, ""),
    )


def descends(doc: StoredDoc, state: str) -> bool:
    """Whether the record ``doc`` is state ``state`` or a descendant of it."""
    return sid(doc.rev, doc.prev) == state or state in doc.ancestors


def learns_ancestry(cur: StoredDoc, inc: Incoming, limit: int) -> bool:
    """Whether ``inc`` (at or behind ``cur``) names states ``cur``'s ancestry lacks, with
    room to keep them (bounded, so replicas cannot keep rewriting the same content)."""
    if len(cur.ancestors) >= limit:
        return False
    known = {sid(cur.rev, cur.prev), *cur.ancestors}
    return inc.sid not in known or any(a not in known for a in inc.ancestors)


@dataclass(frozen=True, slots=True)
class Versioning:
    """What making a new version of one model's documents needs: the clock that stamps
    it, how much history to keep, and the caller's tenant scope."""

    model: Model
    clock: HybridLogicalClock
    scope: TenantScope
    history_limit: int
    merge_base_limit: int

    def stamp(self, content: Document | None, given: Clock, cur: StoredDoc | None) -> Clock:
        """The clock of a version: the sender's stamps where it has them; for other fields,
        the current stamp if the value did not change, else a new stamp (one per write).
        ``WRITTEN_KEY`` is the sender's, or new."""
        if content is None:
            deleted = given.get(DELETED_KEY) or self.clock.now()
            return {DELETED_KEY: deleted, WRITTEN_KEY: given.get(WRITTEN_KEY) or deleted}
        is_live = cur is not None and not cur.deleted
        old = cur.data if cur is not None and is_live else {}
        old_clock = cur.clock if cur is not None and is_live else {}
        now: str | None = None
        clock: Clock = {}
        for name in (content.keys() | old.keys()) if is_live else content:
            if name == "id":
                continue
            stamp = given.get(name)
            if stamp is None and is_live:
                stamp = old_clock.get(name) if old.get(name) == content.get(name) else None
            if stamp is None:
                now = now or self.clock.now()
                stamp = now
            clock[name] = stamp
        clock[WRITTEN_KEY] = given.get(WRITTEN_KEY) or now or self.clock.now()
        return clock

    def successor(
        self,
        model_id: str,
        cur: StoredDoc | None,
        content: Document | None,
        clock: Clock,
        inc: Incoming | None,
    ) -> StoredDoc:
        """The record that replaces ``cur``: its ancestry joins ``cur``'s and (when it
        merges or applies an incoming version) the incoming one's."""
        limit = self.history_limit
        written_as_sent = inc is not None and content is not None and content is inc.content
        if cur is None and written_as_sent:
            assert inc is not None
            assert content is not None
            # New here, as sent (the common case of a first replication): the sender's
            # ancestry, the rev worked out when it was prepared, no merge base to keep.
            ancestors = [a for a in dict.fromkeys(inc.ancestors) if a != inc.rev][:limit]
            return StoredDoc(model_id, inc.rev, None, content, clock, ancestors, {})
        lines: list[Sequence[str]] = []
        bases: dict[str, Document] = {}
        if cur is not None:
            cur_sid = sid(cur.rev, cur.prev)
            lines += [[cur_sid], cur.ancestors]
            if not cur.deleted:
                bases[cur_sid] = cur.data
        if inc is not None:
            lines += [[inc.sid], inc.ancestors]
            if inc.content is not None:
                bases.setdefault(inc.sid, inc.content)
        if cur is not None:
            for key, value in cur.bases.items():
                bases.setdefault(key, value)
        if content is None:
            return self._tombstone(model_id, cur, inc, clock, lines)
        rev = inc.rev if written_as_sent and inc is not None and inc.rev else rev_of(content)
        ancestors = [a for a in join_ancestors(limit + 1, *lines) if a != rev][:limit]
        kept = {a: bases[a] for a in ancestors[: self.merge_base_limit] if a in bases}
        prev = None if cur is None else cur.rev
        return StoredDoc(model_id, rev, prev, content, clock, ancestors, kept)

    def _tombstone(
        self,
        model_id: str,
        cur: StoredDoc | None,
        inc: Incoming | None,
        clock: Clock,
        lines: list[Sequence[str]],
    ) -> StoredDoc:
        """The record of a deletion: the id and change properties of what it deletes."""
        if cur is None:
            prev = inc.prev if inc is not None else None
            data = self.scope.tombstone_of_new(model_id)
        else:
            prev = cur.prev if cur.deleted else cur.rev
            data = {"id": model_id}
            for prop in self.model.change_properties:
                if prop in cur.data:
                    data[prop] = cur.data[prop]
        new_sid = sid(None, prev)
        ancestors = [a for a in join_ancestors(self.history_limit + 1, *lines) if a != new_sid]
        return StoredDoc(model_id, None, prev, data, clock, ancestors[: self.history_limit], {})
