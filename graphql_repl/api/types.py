"""GraphQL types of the fixed part of the schema (CONTRACT §2), and their conversions."""

import dataclasses
from typing import Any, Self

import strawberry

from ..auth import Permission as _Permission
from ..replication import types as r
from .scalars import JSON, Checkpoint

# The domain's enums are the GraphQL enums: strawberry.enum registers them in place.
strawberry.enum(_Permission, name="Permission")
strawberry.enum(r.ChangeType, name="ChangeType")
strawberry.enum(r.UpdateStatus, name="UpdateStatus")
strawberry.enum(r.Resolution, name="Resolution")
Permission = _Permission
ChangeType = r.ChangeType
UpdateStatus = r.UpdateStatus
Resolution = r.Resolution


class FromDomain:
    """GraphQL object types whose fields are those of a replication-layer dataclass of the
    same field names."""

    @classmethod
    def of(cls, value: Any) -> Self:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        return cls(**{f.name: getattr(value, f.name) for f in fields})


@strawberry.type
class Change(FromDomain):
    model: str
    model_id: strawberry.ID
    type: ChangeType
    rev: str | None
    prev: str | None
    checkpoint: Checkpoint
    data: JSON | None
    clock: JSON | None = strawberry.field(
        description="Per-field hybrid logical clock stamps of the document."
    )
    revs: list[str] = strawberry.field(
        description="Ancestor revisions, newest first (deletions as '-' + rev); pass them "
        "back in ChangeInput/UpdateInput.revs so the receiver can tell edits made in "
        "sequence from concurrent ones."
    )


@strawberry.type
class ChangePage:
    changes: list[Change]
    checkpoint: Checkpoint
    has_more: bool


@strawberry.type
class Conflict(FromDomain):
    model: str
    model_id: strawberry.ID
    source_rev: str | None
    target_rev: str | None
    source_data: JSON | None
    target_data: JSON | None
    fields: list[str]


@strawberry.type
class Diff:
    deltas: list[Change]
    conflicts: list[Conflict]


@strawberry.input
class ChangeInput:
    model_id: strawberry.ID
    type: ChangeType
    rev: str | None = None
    prev: str | None = None
    revs: list[str] | None = None

    def to_domain(self) -> r.ChangeInput:
        return r.ChangeInput(str(self.model_id), self.type, self.rev, self.prev, self.revs)


@strawberry.input
class UpdateInput:
    model_id: strawberry.ID
    type: ChangeType
    data: JSON | None = None
    rev: str | None = None
    prev: str | None = None
    clock: JSON | None = None
    revs: list[str] | None = None

    def to_domain(self) -> r.Update:
        clock: Any = self.clock
        return r.Update(
            str(self.model_id), self.type, self.data, self.rev, self.prev, clock, self.revs
        )


@strawberry.type
class UpdateResult(FromDomain):
    model_id: strawberry.ID
    status: UpdateStatus
    rev: str | None
    data: JSON | None
    error: str | None = strawberry.field(description="Why a REJECTED update was refused.")


@strawberry.type
class BulkUpdateResult:
    results: list[UpdateResult]
    conflicts: list[Conflict]
    checkpoint: Checkpoint


@strawberry.input
class CheckpointPairInput:
    source: Checkpoint | None = None
    target: Checkpoint | None = None


@strawberry.type
class CheckpointPair:
    source: Checkpoint
    target: Checkpoint


@strawberry.type
class ReplicationResult:
    conflicts: list[Conflict]
    checkpoints: CheckpointPair
    updates: list[UpdateResult]
