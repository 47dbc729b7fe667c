"""The GraphQL types of one model, named after it (for ``Note``): the document type
``Note``; its inputs ``NoteInput`` (create) and ``NotePatch`` (update); and the types of
RxDB's GraphQL replication protocol (CONTRACT §8): ``NoteCheckpoint``,
``NoteInputCheckpoint``, ``NotePullBulk``, ``NoteInputPushDocument``, ``NoteInputPushRow``
and the ``NoteInputHeaders`` scalar.

Each document field shows how concurrent edits of it merge, in its description and as
``@merge(strategy: ...)``, both taken from the model's declaration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NewType

import strawberry
from strawberry.schema_directive import Location

from ..models import Custom, Field, FieldStrategy, FieldType, Model, Strategy
from ..replication import DocumentState
from .inputs import push_row_reader, read_with
from .scalars import JSON, Checkpoint

DELETED = "_deleted"
REV = "_rev"


@strawberry.enum(description="How concurrent edits of a field are merged.")
class MergeStrategy(enum.Enum):
    SOURCE_WINS = strawberry.enum_value("SOURCE_WINS", description="The incoming side wins.")
    TARGET_WINS = strawberry.enum_value(
        "TARGET_WINS", description="The receiving side (this server) wins."
    )
    LATEST = strawberry.enum_value(
        "LATEST", description="The value written last wins, by hybrid logical clock."
    )
    MAX = strawberry.enum_value("MAX", description="The greater value wins.")
    MIN = strawberry.enum_value("MIN", description="The smaller value wins.")
    UNION = strawberry.enum_value(
        "UNION",
        description="Both lists' items in order, without repeats; an item removed on "
        "either side stays removed.",
    )
    CUSTOM = strawberry.enum_value(
        "CUSTOM", description="A function of the server's, named by `function`."
    )
    MANUAL = strawberry.enum_value(
        "MANUAL",
        description="A conflict: recorded for resolveConflict (bulkUpdate), or left to the "
        "pusher (push<Model>).",
    )


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="merge",
    description="How concurrent edits of this document field are merged (the model's "
    "declaration; a field both sides changed since their common base follows it, a field "
    "only one side changed takes that side's value).",
)
class Merge:
    strategy: MergeStrategy
    function: str | None = strawberry.UNSET


_WORDS = {
    Strategy.SOURCE_WINS: "the incoming side wins",
    Strategy.TARGET_WINS: "this server's value wins",
    Strategy.LATEST: "the value written last wins (hybrid logical clock)",
    Strategy.MAX: "the greater value wins",
    Strategy.MIN: "the smaller value wins",
    Strategy.UNION: "both lists' items in order, without repeats",
    Strategy.MANUAL: "a conflict for a person to resolve",
}

_SCALARS: dict[FieldType, Any] = {
    FieldType.ID: strawberry.ID,
    FieldType.STRING: str,
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOLEAN: bool,
    FieldType.STRING_LIST: list[str],
    FieldType.JSON: JSON,
}


def _merge_directive(strategy: FieldStrategy) -> Merge:
    if isinstance(strategy, Custom):
        return Merge(strategy=MergeStrategy.CUSTOM, function=strategy.name)
    return Merge(strategy=MergeStrategy[strategy.value])


def _merge_words(strategy: FieldStrategy) -> str:
    if isinstance(strategy, Custom):
        return f"merged by the server's function {strategy.name!r}"
    return _WORDS[strategy]


def _field_description(model: Model, f: Field) -> str:
    kind = "" if f.type is FieldType.JSON else f" ({f.type.value})"
    extra = (
        " Tenant-bound tokens see only their tenant's value."
        if (f.name == model.tenant_field)
        else ""
    )
    return f"{f.name}{kind}. Concurrent edits: {_merge_words(model.strategy(f.name))}.{extra}"


@dataclass(frozen=True)
class ModelTypes:
    """The GraphQL types of one model, and conversions to and from them."""

    model: Model
    document: type
    create: type
    patch: type
    push_document: type
    push_row: type
    checkpoint: type
    input_checkpoint: type
    pull_bulk: type
    headers: Any

    def build(self, state: DocumentState) -> Any:
        """The document type's value for a document state (a tombstone: id and change
        properties, other fields null, ``_deleted`` true)."""
        data = state.data
        values = {name: data.get(name) for name in self.model.by_name}
        return self.document(**values, _deleted=state.deleted, _rev=state.rev)

    def bulk(self, states: list[DocumentState], checkpoint: str | None) -> Any:
        documents = [self.build(s) for s in states]
        position = None if checkpoint is None else self.checkpoint(seq=checkpoint)
        return self.pull_bulk(documents=documents, checkpoint=position)


def as_dict(value: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """An input object as a document: fields left out are absent, nulls stay null."""
    out = {}
    for name in (*fields, DELETED):
        item = getattr(value, name, strawberry.UNSET)
        if item is not strawberry.UNSET:
            out[name] = str(item) if name == "id" and item is not None else item
    return out


def model_types(model: Model) -> ModelTypes:
    """Every GraphQL type of ``model``."""
    name = model.name
    document = _document_type(model)
    push_document = _input_type(
        model, f"{name}InputPushDocument", "A {name} as a push sends it", True, pushed=True
    )
    checkpoint = _checkpoint(name, f"{name}Checkpoint", strawberry.type)
    return ModelTypes(
        model=model,
        document=document,
        create=_input_type(model, f"{name}Input", "A new {name} (`id` is optional)", True),
        patch=_input_type(model, f"{name}Patch", "Fields to change in a {name}", False),
        push_document=push_document,
        push_row=_push_row(name, push_document),
        checkpoint=checkpoint,
        input_checkpoint=_checkpoint(name, f"{name}InputCheckpoint", strawberry.input),
        pull_bulk=_pull_bulk(name, document, checkpoint),
        headers=strawberry.scalar(
            NewType(f"{name}InputHeaders", object),
            name=f"{name}InputHeaders",
            description="Any JSON object (RxDB sends its whole `headers` option here); its "
            "`Authorization` (any letter case) must name the connection's token, or stands "
            "in for one when the connection has none.",
        ),
    )


def _document_type(model: Model) -> type:
    annotations: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for f in model.by_name.values():
        if f.name == "id":
            annotations["id"] = strawberry.ID
            values["id"] = strawberry.field(description=f"The {model.name}'s id.")
            continue
        annotations[f.name] = _SCALARS[f.type] | None
        values[f.name] = strawberry.field(
            default=None,
            description=_field_description(model, f),
            directives=[_merge_directive(model.strategy(f.name))],
        )
    annotations[DELETED] = bool
    values[DELETED] = strawberry.field(
        default=False,
        name=DELETED,
        description="True for a tombstone: the document was deleted (its other fields are "
        "null, its change properties kept).",
    )
    annotations[REV] = str | None
    values[REV] = strawberry.field(
        default=None,
        name=REV,
        description="The server's rev of this state: a hash of its canonical JSON (null for "
        "a tombstone).",
    )
    cls = type(model.name, (), {"__annotations__": annotations, **values})
    return strawberry.type(
        cls, name=model.name, description=f"A {model.name} document (or its tombstone)."
    )


def _input_type(
    model: Model, name: str, description: str, with_id: bool, pushed: bool = False
) -> type:
    annotations: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for f in model.by_name.values():
        if f.name == "id" and not with_id:
            continue
        kind: Any = strawberry.ID if f.type is FieldType.ID else _SCALARS[f.type]
        words = f"The {model.name}'s id." if f.name == "id" else _field_description(model, f)
        if pushed and f.name == "id":  # a pushed document always names its id
            annotations[f.name] = kind
            values[f.name] = strawberry.field(description=words)
        else:
            annotations[f.name] = kind | None
            values[f.name] = strawberry.field(default=strawberry.UNSET, description=words)
    if pushed:
        annotations[DELETED] = bool | None
        values[DELETED] = strawberry.field(
            default=strawberry.UNSET, name=DELETED, description="True: the document is deleted."
        )
    cls = type(name, (), {"__annotations__": annotations, **values})
    return strawberry.input(cls, name=name, description=description.format(name=model.name) + ".")


def _push_row(model: str, push_document: type) -> type:
    """The push row type; its values are ``PushRow``s (see api/inputs.py)."""
    name = f"{model}InputPushRow"
    cls = type(
        name,
        (),
        {
            "__annotations__": {
                "assumed_master_state": push_document | None,
                "new_document_state": push_document,
            },
            "assumed_master_state": strawberry.field(
                default=None,
                description="The state the client based its change on, as it last pulled "
                "it (absent: it believes the document does not exist).",
            ),
            "new_document_state": strawberry.field(description="The state to write."),
        },
    )
    row = strawberry.input(cls, name=name, description=f"One {model} to push (RxDB's push row).")
    read_with(row, push_row_reader(push_document))
    return row


def _checkpoint(model: str, name: str, kind: Any) -> type:
    cls = type(
        name,
        (),
        {
            "__annotations__": {"seq": Checkpoint},
            "seq": strawberry.field(
                description=f"A position in the {model} change log (opaque: pass it back)."
            ),
        },
    )
    words = f"Where a pull of {model} documents continues (RxDB's checkpoint)."
    result: type = kind(cls, name=name, description=words)
    return result


def _pull_bulk(model: str, document: type, checkpoint: type) -> type:
    name = f"{model}PullBulk"
    cls = type(
        name,
        (),
        {
            "__annotations__": {"documents": list[document], "checkpoint": checkpoint | None},  # type: ignore[valid-type]
            "documents": strawberry.field(
                description=f"{model} documents in log order, each in its latest state "
                "(tombstones with `_deleted: true`)."
            ),
            "checkpoint": strawberry.field(
                description="Where the next pull continues (the same when nothing changed)."
            ),
        },
    )
    return strawberry.type(cls, name=name, description=f"A batch of {model} documents.")
