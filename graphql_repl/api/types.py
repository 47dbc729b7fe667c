"""GraphQL types of the fixed part of the schema (CONTRACT §2), and their conversions.

The enums are the API's own (so each value carries its description); they convert to and
from the replication layer's enums of the same names by member name.
"""

import dataclasses
import enum
from typing import Any, Self

import strawberry

from ..replication import types as r
from .inputs import read_with, update_of
from .scalars import JSON, Checkpoint


@strawberry.enum(description="What a token may do with a model's documents.")
class Permission(enum.Enum):
    READ = strawberry.enum_value("READ", description="Read documents (typed reads, pull).")
    REPLICATE = strawberry.enum_value(
        "REPLICATE", description="Read the change log and replicate (server-to-server sync)."
    )
    WRITE = strawberry.enum_value("WRITE", description="Create, update and delete documents.")


@strawberry.enum(description="What a change did to its document.")
class ChangeType(enum.Enum):
    CREATE = strawberry.enum_value("CREATE", description="The document came into being.")
    UPDATE = strawberry.enum_value("UPDATE", description="The document was changed.")
    DELETE = strawberry.enum_value("DELETE", description="The document was deleted.")


@strawberry.enum(description="What became of one update of a bulkUpdate.")
class UpdateStatus(enum.Enum):
    APPLIED = strawberry.enum_value(
        "APPLIED", description="The target was at `prev` (or lacked the document): written."
    )
    UNCHANGED = strawberry.enum_value(
        "UNCHANGED", description="The target already had this revision, or a later one."
    )
    MERGED = strawberry.enum_value(
        "MERGED", description="Concurrent edits merged field by field; the merge was written."
    )
    CONFLICT = strawberry.enum_value(
        "CONFLICT",
        description="Concurrent edits no strategy could merge: nothing written, the "
        "conflict recorded (see `conflicts`).",
    )
    REJECTED = strawberry.enum_value(
        "REJECTED", description="The update itself was invalid; `error` says why."
    )


@strawberry.enum(description="How resolveConflict settles a recorded conflict.")
class Resolution(enum.Enum):
    SOURCE = strawberry.enum_value("SOURCE", description="Write the source side.")
    TARGET = strawberry.enum_value("TARGET", description="Keep the target side, as winning.")
    MANUAL = strawberry.enum_value(
        "MANUAL", description="Write `data`: the whole document (not a patch)."
    )


_API_ENUMS: dict[type[enum.Enum], type[enum.Enum]] = {
    r.ChangeType: ChangeType,
    r.UpdateStatus: UpdateStatus,
    r.Resolution: Resolution,
}


def _api(value: Any) -> Any:
    api = _API_ENUMS.get(type(value))
    return value if api is None else api[value.name]


class FromDomain:
    """GraphQL object types whose fields are those of a replication-layer dataclass of the
    same field names."""

    @classmethod
    def of(cls, value: Any) -> Self:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        return cls(**{f.name: _api(getattr(value, f.name)) for f in fields})


_REVS = (
    "Ancestor revisions, newest first (deletions as '-' + rev); pass them back in "
    "ChangeInput/UpdateInput.revs so the receiver can tell edits made in sequence from "
    "concurrent ones."
)


@strawberry.type(description="The latest change of one document, at a checkpoint of its log.")
class Change(FromDomain):
    model: str = strawberry.field(description="The model's name.")
    model_id: strawberry.ID = strawberry.field(description="The document's id.")
    type: ChangeType = strawberry.field(description="What the change did.")
    rev: str | None = strawberry.field(
        description="The document's rev after the change: a hash of its canonical JSON "
        "(null for a deletion)."
    )
    prev: str | None = strawberry.field(
        description="The rev the change replaced (null when the document was new)."
    )
    checkpoint: Checkpoint = strawberry.field(
        description="The change's position in the log: pass it as `since` to continue after it."
    )
    data: JSON | None = strawberry.field(
        description="The whole document after the change (null for a deletion)."
    )
    clock: JSON | None = strawberry.field(
        description="Per-field hybrid logical clock stamps of the document."
    )
    revs: list[str] = strawberry.field(description=_REVS)


@strawberry.type(description="A page of a model's change log.")
class ChangePage:
    changes: list[Change] = strawberry.field(description="The changes, in log order.")
    checkpoint: Checkpoint = strawberry.field(
        description="Pass as `since` to continue after this page."
    )
    has_more: bool = strawberry.field(description="Whether more changes follow this page.")


@strawberry.type(description="Concurrent edits of one document that could not be merged.")
class Conflict(FromDomain):
    model: str = strawberry.field(description="The model's name.")
    model_id: strawberry.ID = strawberry.field(description="The document's id.")
    source_rev: str | None = strawberry.field(description="The incoming side's rev.")
    target_rev: str | None = strawberry.field(description="This server's rev.")
    source_data: JSON | None = strawberry.field(
        description="The incoming side's document (null: it deleted the document)."
    )
    target_data: JSON | None = strawberry.field(
        description="This server's document (null: deleted here)."
    )
    fields: list[str] = strawberry.field(description="The fields both sides changed.")


@strawberry.type(description="LoopBack's diff: which remote changes to apply, which conflict.")
class Diff:
    deltas: list[Change] = strawberry.field(
        description="Remote changes this server lacks and can apply."
    )
    conflicts: list[Conflict] = strawberry.field(
        description="Remote changes concurrent with a change made here since `since`."
    )


@strawberry.input(description="A remote change as diff compares it: revisions, no data.")
class ChangeInput:
    model_id: strawberry.ID = strawberry.field(description="The document's id.")
    type: ChangeType = strawberry.field(description="What the change did.")
    rev: str | None = strawberry.field(default=None, description="Its rev (null for DELETE).")
    prev: str | None = strawberry.field(default=None, description="The rev it replaced.")
    revs: list[str] | None = strawberry.field(default=None, description=_REVS)

    def to_domain(self) -> r.ChangeInput:
        kind = r.ChangeType[self.type.name]
        return r.ChangeInput(str(self.model_id), kind, self.rev, self.prev, self.revs)


@strawberry.input(description="One document for bulkUpdate.")
class UpdateInput:
    model_id: strawberry.ID = strawberry.field(description="The document's id.")
    type: ChangeType = strawberry.field(description="What the update does.")
    data: JSON | None = strawberry.field(
        default=None, description="The whole document for CREATE and UPDATE."
    )
    rev: str | None = strawberry.field(
        default=None, description="Informational: the target computes the rev from `data`."
    )
    prev: str | None = strawberry.field(
        default=None, description="The rev the update is based on: the target must be at it."
    )
    clock: JSON | None = strawberry.field(
        default=None, description="The source's per-field stamps (from Change.clock)."
    )
    revs: list[str] | None = strawberry.field(default=None, description=_REVS)


read_with(UpdateInput, update_of)  # its values are ``Update``s (see api/inputs.py)


@strawberry.type(description="What became of one update, and the document's state after it.")
class UpdateResult(FromDomain):
    model_id: strawberry.ID = strawberry.field(description="The document's id.")
    status: UpdateStatus = strawberry.field(description="What became of the update.")
    rev: str | None = strawberry.field(
        description="The target's rev of the document after the update, whatever the status."
    )
    data: JSON | None = strawberry.field(
        description="The target's document after the update, whatever the status (null: none)."
    )
    error: str | None = strawberry.field(description="Why a REJECTED update was refused.")


@strawberry.type(description="The results of a bulkUpdate.")
class BulkUpdateResult:
    results: list[UpdateResult] = strawberry.field(description="One per update, in order.")
    conflicts: list[Conflict] = strawberry.field(description="The conflicts it recorded.")
    checkpoint: Checkpoint = strawberry.field(description="The target's log after the update.")


@strawberry.input(description="Where a replication continues: a checkpoint of each side.")
class CheckpointPairInput:
    source: Checkpoint | None = strawberry.field(
        default=None, description="The source model's checkpoint (null: from the start)."
    )
    target: Checkpoint | None = strawberry.field(
        default=None, description="The target model's checkpoint."
    )


@strawberry.type(description="Where a replication stopped: pass it back as `since`.")
class CheckpointPair:
    source: Checkpoint = strawberry.field(description="The source model's checkpoint.")
    target: Checkpoint = strawberry.field(description="The target model's checkpoint.")


@strawberry.type(description="The outcome of replicate.")
class ReplicationResult:
    conflicts: list[Conflict] = strawberry.field(description="Conflicts left on the target.")
    checkpoints: CheckpointPair = strawberry.field(description="Pass as `since` next time.")
    updates: list[UpdateResult] = strawberry.field(description="What became of each change.")
