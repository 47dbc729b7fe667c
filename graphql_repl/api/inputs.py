"""The bulk inputs (``UpdateInput``, ``<Model>InputPushRow``) read straight from the values
graphql-core has coerced, into the replication layer's ``Update`` and ``PushRow``.

Strawberry converts an input value field by field into an instance of its input class
(resolving each field's type, its GraphQL name and its default on every value), and the
resolver then copied that instance into the replication layer's dataclass: for a
``bulkUpdate`` of a thousand updates, half of the server's time. graphql-core has already
checked every field's type and parsed its scalars by then, so the types below build the
dataclass from the coerced value at once, through Strawberry's ``from_input`` hook of the
type's definition. The schema is unchanged: the hook is how a value is built, not what the
type is. tests/api/test_inputs.py holds the hooks to Strawberry's own conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

from ..replication import PushRow
from ..replication import types as r

FromInput = Callable[[type, Mapping[str, Any], InputContext], Any]


def read_with(cls: type, from_input: FromInput) -> None:
    """Build ``cls``'s input values with ``from_input`` instead of Strawberry's conversion."""
    get_object_definition(cls, strict=True).from_input = from_input


def update_of(_cls: type, value: Mapping[str, Any], _context: InputContext) -> r.Update:
    """An ``UpdateInput`` as an ``Update``. Its enum value is the API's ``ChangeType``."""
    return r.Update(
        value["modelId"],
        r.ChangeType[value["type"].name],
        value.get("data"),
        value.get("rev"),
        value.get("prev"),
        value.get("clock"),
        value.get("revs"),
    )


def push_row_reader(document: type) -> FromInput:
    """How a push row is read, whose documents are of the input type ``document``: as
    plain JSON objects keyed by the document's field names (``_deleted`` included); fields
    left out stay absent, nulls stay null."""
    names: dict[str, str] = {}  # GraphQL field name -> document field name

    def plain(value: Mapping[str, Any], context: InputContext) -> dict[str, Any]:
        if not names:
            convert = context.config.name_converter.from_field
            fields = get_object_definition(document, strict=True).fields
            names.update((convert(f), f.python_name) for f in fields)
        return {names[k]: v for k, v in value.items() if k in names}

    def push_row(_cls: type, value: Mapping[str, Any], context: InputContext) -> PushRow:
        assumed = value.get("assumedMasterState")
        return PushRow(
            plain(value["newDocumentState"], context),
            None if assumed is None else plain(assumed, context),
        )

    return push_row
