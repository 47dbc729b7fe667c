"""Revisions and ancestry.

A rev is a hash of a document's canonical JSON, so equal content has equal revs on every
replica, and a client in any language can compute it: the first 32 hex digits of the
SHA-256 of the validated document (Float fields as numbers, ``null`` fields left out) in
the JSON Canonicalization Scheme (RFC 8785: sorted keys, no spaces, numbers written as
ECMAScript writes them, so ``1.0`` is ``1``). A state id ("sid") names any state in a
document's history: its rev when live, ``"-" + prev`` for the deletion of revision ``prev``.

Each stored document keeps its ancestors' sids (newest first, bounded) and the content of
the most recent few, which is enough to tell fast-forwards from concurrent edits and to give
a three-way merge its base.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import rfc8785

from ..errors import InvalidDocument
from ..models import Document

DELETED = "-"


def canonical(value: Any) -> bytes:
    """``value`` in the JSON Canonicalization Scheme (RFC 8785).

    Values without fractional numbers (most documents) take orjson's sorted compact form,
    which is the same bytes for them and 60 times faster; the others go through the
    ``rfc8785`` library. JCS writes numbers as IEEE doubles, so a value holding both a
    fractional number and an integer beyond ±(2^53 - 1) has no canonical form."""
    if _plain(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        raise InvalidDocument(
            "a document holding fractional numbers cannot also hold integers beyond "
            "±(2^53 - 1) (they have no exact canonical JSON form)"
        ) from None


def _plain(value: Any) -> bool:
    """Whether orjson's sorted form of ``value`` is its JCS form: no floats (JCS formats
    numbers as ECMAScript does), and keys in ASCII (JCS sorts keys by UTF-16 code units,
    orjson by code points; they agree on ASCII)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(k.isascii() and _plain(v) for k, v in value.items())
    return False


def rev_of(content: Document) -> str:
    """The rev of a validated document (see the module docstring)."""
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
