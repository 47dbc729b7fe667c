"""A push row that does not fit its input type is refused alone, not the whole request.

GraphQL coerces variables before any resolver runs, so one row with an unknown field or a
value of the wrong type would fail the whole ``push<Model>`` request, and a client that
retries a failing push forever (RxDB does) would stop syncing. ``PushRowScreen`` looks at
each row of a ``push<Model>`` argument given by a variable before execution: a row that
does not coerce is replaced by one naming only its id, and the reason is handed to the
resolver (``refusals``), which refuses that row alone and answers its master state.
Literal arguments (written into the query) stay the query's own validation errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLInputType,
    OperationType,
    VariableNode,
    get_operation_ast,
    type_from_ast,
)
from graphql.type import GraphQLList, GraphQLNonNull
from graphql.utilities import validate_input_value
from strawberry.extensions import SchemaExtension

ROW_SUFFIX = "PushRow"


@dataclass(frozen=True)
class Refusals:
    """The rows refused before execution, by the push field's response key (its alias or
    name) and the row's index. Set as the operation's root value."""

    by_field: Mapping[str, Mapping[int, str]] = field(default_factory=dict)


def refusals(root: object, response_key: str) -> Mapping[int, str]:
    """The refused rows of the push field answered under ``response_key``."""
    return root.by_field.get(response_key, {}) if isinstance(root, Refusals) else {}


class PushRowScreen(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document, variables = context.graphql_document, context.variables
        if document is not None and variables:
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None and operation.operation is OperationType.MUTATION:
                screened, found = _screen(self.execution_context.schema, operation, variables)
                if found:
                    context.variables = screened
                    context.root_value = Refusals(found)
        yield


def _screen(
    schema: Any, operation: Any, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[int, str]]]:
    # ``_schema`` is Strawberry's graphql-core schema (the types to coerce against); the
    # tests of bad push rows (tests/api/test_inputs.py) fail if it goes away.
    core = schema._schema
    types = {d.variable.name.value: d.type for d in operation.variable_definitions}
    screened = dict(variables)
    found: dict[str, dict[int, str]] = {}
    for node in operation.selection_set.selections:
        if not isinstance(node, FieldNode) or not node.name.value.startswith("push"):
            continue
        for argument in node.arguments or ():
            value = argument.value
            if not argument.name.value.endswith(ROW_SUFFIX) or not isinstance(value, VariableNode):
                continue
            name = value.name.value
            rows, declared = screened.get(name), types.get(name)
            row_type = _item_type(type_from_ast(core, declared)) if declared else None
            if not isinstance(rows, list) or row_type is None:
                continue
            refused = {}
            kept = []
            for i, row in enumerate(rows):
                problem = _problem(row, row_type)
                if problem is not None:
                    refused[i] = problem
                    row = {"newDocumentState": {"id": _row_id(row)}}
                kept.append(row)
            if refused:
                screened[name] = kept
                found[(node.alias or node.name).value] = refused
    return screened, found


def _problem(row: Any, row_type: GraphQLInputType) -> str | None:
    """Why ``row`` does not coerce to its type (None: it does)."""
    problems: list[str] = []

    def on_error(error: GraphQLError, path: Any) -> None:
        problems.append(error.message)

    validate_input_value(row, row_type, on_error, hide_suggestions=True)
    return "; ".join(problems) if problems else None


def _item_type(kind: Any) -> GraphQLInputType | None:
    """The row type of ``[XInputPushRow!]`` (None for any other type)."""
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if not isinstance(kind, GraphQLList):
        return None
    item: GraphQLInputType = kind.of_type
    return item


def _row_id(row: Any) -> str:
    """The id a refused row names, when it names one (its master state is answered)."""
    new = row.get("newDocumentState") if isinstance(row, dict) else None
    value = new.get("id") if isinstance(new, dict) else None
    return value if isinstance(value, str) else ""
