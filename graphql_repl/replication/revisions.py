"""Revisions and ancestry.

A rev is a hash of a document's canonical JSON (sorted keys, compact, metadata excluded),
so equal content has equal revs on every replica. A state id ("sid") names any state in a
document's history: its rev when live, ``"-" + prev`` for the deletion of revision ``prev``.

Each stored document keeps its ancestors' sids (newest first, bounded) and the content of
the most recent few, which is enough to tell fast-forwards from concurrent edits and to give
a three-way merge its base.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence

import orjson

from ..models import Document

DELETED = "-"


def canonical(content: Document) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def rev_of(content: Document) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()[:32]


def sid(rev: str | None, prev: str | None) -> str:
    """The state id of a document at ``rev`` (a deletion of ``prev`` when rev is None)."""
    return rev if rev is not None else DELETED + (prev or "")


class Relation(enum.Enum):
    SAME = "same"  # both sides are at the same state (or both deleted)
    STALE = "stale"  # the local side already descends from the remote state
    FAST_FORWARD = "fast_forward"  # the remote state descends from the local one
    DIVERGED = "diverged"  # concurrent edits


def relate(
    local_sid: str | None,
    local_ancestors: Sequence[str],
    remote_sid: str,
    remote_ancestors: Sequence[str],
    local_written: str = "",
    remote_written: str = "",
) -> Relation:
    """How a remote state relates to the local one; ``local_sid`` None: no local document.

    Revs are content hashes, so a content that recurs (A→B→A, or a merge that rebuilds an
    earlier content) can be found among the other side's ancestors although this version
    of it is newer. The versions' write stamps (``*_written``, hybrid logical clock: a
    version written after another was seen has the later stamp) tell those cases apart.
    A remote version without a stamp (a client that sends no clock) counts as old, so a
    retried update never undoes later edits."""
    if local_sid is None:
        return Relation.FAST_FORWARD
    if remote_sid == local_sid or (
        remote_sid.startswith(DELETED) and local_sid.startswith(DELETED)
    ):
        return Relation.SAME
    behind = remote_sid in local_ancestors
    ahead = local_sid in remote_ancestors
    remote_newer = bool(remote_written) and remote_written > local_written
    local_newer = bool(remote_written) and local_written > remote_written
    if behind and ahead:
        if remote_newer:
            return Relation.FAST_FORWARD
        if local_newer:
            return Relation.STALE
        # No stamps to tell: a version based on this very state is the newer one.
        return Relation.FAST_FORWARD if remote_ancestors[0] == local_sid else Relation.STALE
    if behind:
        # The remote content is in our past, but this version of it was written later.
        return Relation.DIVERGED if remote_newer else Relation.STALE
    if ahead:
        # The remote descends from our content, but we wrote this version of it later.
        return Relation.DIVERGED if local_newer else Relation.FAST_FORWARD
    return Relation.DIVERGED


def join_ancestors(limit: int, *lines: Iterable[str]) -> list[str]:
    """Merge several newest-first ancestor lines into one, interleaved, without repeats."""
    iters = [iter(line) for line in lines]
    out: list[str] = []
    seen: set[str] = set()
    while iters and len(out) < limit:
        alive = []
        for it in iters:
            for s in it:
                if s not in seen:
                    seen.add(s)
                    out.append(s)
                    alive.append(it)
                    break
        iters = alive
    return out[:limit]
