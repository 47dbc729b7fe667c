"""Execute each changeFeed event once per distinct subscription query, not once per
subscriber.

The feed hands the same ``Change`` object to every subscriber of a model. Subscribers that
sent the same subscription document with the same variables would get the same result
for it (the ``Change`` type's fields have no permissions or arguments; the root field's
permission was checked when the subscription started), so the first subscriber's
execution result is kept on the event and reused by the others. Results are not shared
when they are still awaitable or carry errors.
"""

from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult, OperationType

# A private API: Strawberry's execution context (the class its schema passes as
# ``execution_context_class``; subclassing graphql-core's own would lose what Strawberry
# adds to each resolver's info). tests/api/test_fanout.py fails if a Strawberry release
# changes it so that results are no longer shared; pyproject.toml caps Strawberry's version.
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ..replication import Change as DomainChange
from . import types as t

_SHARED = "_graphql_repl_results"


class SharedEvents:
    """Recent feed events by (model, checkpoint, id): a checkpoint names one entry of one
    change log, so every subscriber that receives it receives the same change (with the
    id its view gives the document). Bounded: a subscriber far behind the others just
    executes its own copy."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._events: OrderedDict[tuple[str, str | None, str], t.Change] = OrderedDict()

    def get(self, change: DomainChange) -> t.Change:
        """The one GraphQL ``Change`` object for a feed change, whoever receives it."""
        # The id is part of the key: views scoped to a tenant show ids of their own.
        key = (change.model, change.checkpoint, change.model_id)
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = t.Change.of(change)
            setattr(event, _SHARED, {})
            if len(self._events) > self.size:
                self._events.popitem(last=False)
        return event


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        results: dict[Any, ExecutionResult] | None = getattr(self.root_value, _SHARED, None)
        key = self._sharing_key() if results is not None else None
        if key is None:
            return super().execute_operation(serially)
        assert results is not None
        shared = results.get(key)
        if shared is not None:
            return shared
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors:
            results[key] = result
        return result

    def _sharing_key(self) -> Any:
        operation = self.operation
        if operation.operation is not OperationType.SUBSCRIPTION or operation.loc is None:
            return None
        variables = self.variable_values.coerced
        try:
            frozen = tuple(sorted((k, repr(v)) for k, v in variables.items()))
        except TypeError:
            return None
        return (operation.loc.source.body, operation.name and operation.name.value, frozen)
