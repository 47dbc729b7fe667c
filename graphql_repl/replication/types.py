"""The replication vocabulary (LoopBack's, made exact): changes, updates, conflicts."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import Document

Clock = dict[str, str]

#: Changes per page when a caller gives no limit, and the most one page may hold.
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


class ChangeType(enum.Enum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class UpdateStatus(enum.Enum):
    APPLIED = "APPLIED"  # the target was at prev (or lacked the document): written as sent
    UNCHANGED = "UNCHANGED"  # the target already had this revision, or a later one
    MERGED = "MERGED"  # concurrent edits merged field by field; the merge was written
    CONFLICT = "CONFLICT"  # concurrent edits a strategy could not merge; recorded, nothing written
    REJECTED = "REJECTED"  # the update itself was invalid; see ``error``


class Resolution(enum.Enum):
    SOURCE = "SOURCE"
    TARGET = "TARGET"
    MANUAL = "MANUAL"


@dataclass(slots=True)
class Change:
    """The latest change of one document, at a position (checkpoint) in the change log."""

    model: str
    model_id: str
    type: ChangeType
    rev: str | None
    prev: str | None
    checkpoint: str | None
    data: Document | None
    clock: Clock
    revs: list[str] = field(default_factory=list)  # ancestors, newest first (starts with prev)


@dataclass(slots=True)
class ChangePage:
    changes: list[Change]
    checkpoint: str
    has_more: bool


@dataclass(slots=True)
class ChangeInput:
    """A remote change as ``diff`` receives it: no data, only revisions."""

    model_id: str
    type: ChangeType
    rev: str | None = None
    prev: str | None = None
    revs: Sequence[str] | None = None


@dataclass(slots=True)
class Update:
    """One document sent to ``bulk_update``: the whole document for CREATE and UPDATE."""

    model_id: str
    type: ChangeType
    data: Any = None
    rev: str | None = None
    prev: str | None = None
    clock: Clock | None = None
    revs: Sequence[str] | None = None

    @classmethod
    def from_change(cls, change: Change) -> Update:
        return cls(
            change.model_id,
            change.type,
            change.data,
            change.rev,
            change.prev,
            change.clock,
            change.revs,
        )


@dataclass(slots=True)
class Conflict:
    model: str
    model_id: str
    source_rev: str | None
    target_rev: str | None
    source_data: Document | None
    target_data: Document | None
    fields: list[str]


@dataclass(slots=True)
class UpdateResult:
    model_id: str
    status: UpdateStatus
    rev: str | None = None
    data: Document | None = None
    error: str | None = None


@dataclass(slots=True)
class BulkUpdateResult:
    results: list[UpdateResult]
    conflicts: list[Conflict]
    checkpoint: str


@dataclass(slots=True)
class Diff:
    deltas: list[Change]
    conflicts: list[Conflict]


@dataclass(slots=True, frozen=True)
class CheckpointPair:
    source: str | None = None
    target: str | None = None


@dataclass(slots=True)
class ReplicationResult:
    conflicts: list[Conflict]
    checkpoints: CheckpointPair
    updates: list[UpdateResult]  # empty when replicate() was asked not to keep them
    counts: dict[UpdateStatus, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DocumentState:
    """A document as a web app syncs it: its content (for a tombstone, the id and change
    properties of what was deleted), whether it is deleted, its rev (None for a tombstone)
    and the checkpoint of its latest change."""

    data: Document
    deleted: bool = False
    rev: str | None = None
    checkpoint: str | None = None


@dataclass(slots=True)
class StatePage:
    """Documents in their latest states, in log order, and where the next page starts."""

    documents: list[DocumentState]
    checkpoint: str
