"""One event per GraphQL operation (``api.events.Operation``): its type, name and root
fields, the model it is about, who called (token id, tenant, address), its outcome and how
long it took. ``OperationLog`` is the schema extension that emits it; for a subscription
the operation spans its whole life, and the event comes when it closes.

The root fields that label the metrics are only those the schema has (``RootFields``), so
a request naming fields that do not exist cannot make new labels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from .context import Context
from .errors import code_of
from .events import OK, Operation

log = logging.getLogger(__name__)

#: The operation's log extension while it runs (its ``results`` counts what it sent).
results_sent: ContextVar[OperationLog | None] = ContextVar("results_sent", default=None)

#: The root field's arguments that name the model it is about (``replicate``: ``source``).
MODEL_ARGUMENTS = ("model", "source")
UNKNOWN_FIELD = "(unknown)"
MAX_NAME = 100  # a model name from a request, as logged


@dataclass
class RootFields:
    """The schema's root fields by operation type, and the model each typed field is
    about (``notes`` → ``Note``); filled in once the schema is built."""

    fields: dict[str, frozenset[str]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    def fill(self, schema: GraphQLSchema, models: Mapping[str, str]) -> None:
        for kind, root in (
            ("query", schema.query_type),
            ("mutation", schema.mutation_type),
            ("subscription", schema.subscription_type),
        ):
            names = set(root.fields) if root is not None else set()
            self.fields[kind] = frozenset(names | {"__typename", "__schema", "__type"})
        self.models.update(models)

    def label(self, kind: str, name: str) -> str:
        return name if name in self.fields.get(kind, ()) else UNKNOWN_FIELD


@dataclass(frozen=True, slots=True)
class _Root:
    key: str  # the response key: the alias, or the name
    name: str
    model: str | None


class OperationLog(SchemaExtension):
    """Emits an ``Operation`` event through the repository's ``Events`` when an operation
    ends. Placed first among the extensions, it sees the errors after ``ContractErrors``
    has given them their codes, and times everything the others do."""

    def __init__(self, *, roots: RootFields, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self.roots = roots
        self.codes: dict[str | None, str] = {}  # first code per response key (None: all)
        self.results = 0  # results sent without errors (a subscription's events)

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        # Read by a subscription's fast lane, which sends results past on_stream_result.
        # Set, never reset: a subscription runs in a task of its own, whose context this
        # is, and its end may run in another (the legacy protocol closes generators from
        # a task of its own), where a reset would fail; every operation sets its own.
        results_sent.set(self)
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, Context):
                # Telling of an operation must never change its answer.
                try:
                    self._collect(getattr(self.execution_context, "result", None))
                    self._collect_errors(self.execution_context.pre_execution_errors or [])
                    self._emit(context, (time.perf_counter() - started) * 1000)
                except Exception:
                    log.exception("Could not log an operation")

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # WebSocket: each result goes out here (a subscription's events, one by one).
        if getattr(result, "errors", None):
            self._collect(result)
        else:
            self.results += 1
        yield

    def _collect(self, result: Any) -> None:
        self._collect_errors(getattr(result, "errors", None) or [])

    def _collect_errors(self, errors: list[GraphQLError]) -> None:
        for error in errors:
            key = str(error.path[0]) if error.path else None
            self.codes.setdefault(key, code_of(error))

    def _emit(self, context: Context, duration_ms: float) -> None:
        ctx = self.execution_context
        operation = _operation(ctx.graphql_document, ctx.operation_name)
        kind = operation.operation.value if operation is not None else "unknown"
        roots = _roots(ctx.graphql_document, operation, ctx.variables or {}, self.roots.models)
        first = next(iter(self.codes.values()), OK)
        outcomes = {
            self.roots.label(kind, r.name): self.codes.get(r.key, self.codes.get(None, OK))
            for r in roots
        }
        principal = context.principal
        models = sorted({r.model for r in roots if r.model is not None})
        context.repository.events.emit(
            Operation(
                operation_type=kind,
                operation_name=ctx.operation_name,
                root_fields=tuple(r.name for r in roots),
                model=",".join(models) or None,
                token_id=principal.token_id if principal else None,
                tenant=principal.tenant if principal else None,
                outcome=first,
                duration_ms=round(duration_ms, 3),
                client=context.client,
                transport="websocket" if context.over_websocket else "http",
                events=self.results if kind == "subscription" else None,
                resync=any(_resync(e) for e in _errors(ctx)),
                auth_failure=_auth_failure(context, set(self.codes.values())),
                outcomes=outcomes,
            )
        )


def _errors(ctx: Any) -> list[GraphQLError]:
    result = getattr(ctx, "result", None)
    return [*(getattr(result, "errors", None) or []), *(ctx.pre_execution_errors or [])]


def _resync(error: GraphQLError) -> bool:
    return bool(error.extensions and error.extensions.get("resync"))


def _auth_failure(context: Context, codes: set[str]) -> str | None:
    """Why the caller's token did not do, when an error says it did not."""
    if "UNAUTHENTICATED" in codes:
        if context.refusal is not None:
            return context.refusal
        return "missing" if context.principal is None else "recheck"
    return "forbidden" if "FORBIDDEN" in codes else None


def _operation(document: DocumentNode | None, name: str | None) -> OperationDefinitionNode | None:
    """The operation of ``document`` that runs: the one named ``name``, else the only one."""
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def _roots(
    document: DocumentNode | None,
    operation: OperationDefinitionNode | None,
    variables: Mapping[str, Any],
    typed: Mapping[str, str],
) -> list[_Root]:
    """The root fields ``operation`` selects (through fragments too), with their models."""
    if document is None or operation is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    found: list[_Root] = []

    def walk(selections: SelectionSetNode, seen: frozenset[str]) -> None:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                key = node.alias.value if node.alias else name
                found.append(_Root(key, name, _model(node, variables) or typed.get(name)))
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = fragments.get(node.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, seen | {node.name.value})

    walk(operation.selection_set, frozenset())
    return found


def _model(node: FieldNode, variables: Mapping[str, Any]) -> str | None:
    """The model a fixed field names in its arguments (a literal or a variable)."""
    for argument in node.arguments or ():
        if argument.name.value not in MODEL_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, StringValueNode):
            return value.value[:MAX_NAME]
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given[:MAX_NAME] if isinstance(given, str) else None
    return None
