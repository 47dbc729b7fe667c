"""Feed fan-out: each event is executed and encoded once per group of subscribers, not
once per subscriber.

A group is the subscribers of one model's feed that sent the same subscription document
with the same variables, in the same tenant scope. The feed hands the same GraphQL object
(a ``Change`` for ``changeFeed``, a pull bulk for ``stream<Model>``) to every subscriber
in one tenant scope that receives the same records; the types under it have no field
permissions or arguments (the root field's permission was checked when the subscription
started), so a group's subscribers would all get the same result. The first subscriber's
execution by Strawberry is kept on the event and reused by the others (results that are
still awaitable or carry errors are not), and its data is a ``SharedData``, whose
``payload`` JSON is encoded once: the WebSocket adapter (``api/http.py``) writes
``next``/``data`` frames of such data by splicing the operation id into those bytes.

The slow path is Strawberry's own: a subscriber whose result is not shared executes and
encodes it as it would without this module; tests/api/test_fanout_property.py holds both
paths to the same payloads.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import orjson
from graphql import ExecutionResult, Executor, OperationType

# A private API: Strawberry's execution context (the class its schema passes as
# ``execution_context_class``; subclassing graphql-core's own would lose what Strawberry
# adds to each resolver's info). tests/api/test_fanout.py fails if a Strawberry release
# changes it so that results are no longer shared; pyproject.toml caps Strawberry's version.
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ..replication import Change as DomainChange
from ..replication import StatePage
from . import types as t

SHARED = "_graphql_repl_results"  # on an event: its results by group


class SharedData(dict[str, Any]):
    """A shared result's data: the event it came from (``source``), the executor of its
    group (``group``: it renders the group's next events) and the JSON of its
    ``{"data": ...}`` payload, encoded the first time a frame needs it."""

    __slots__ = ("_payload", "group", "key", "source")

    def __init__(
        self, data: dict[str, Any], source: object, group: Executor[Any] | None, key: Hashable
    ) -> None:
        super().__init__(data)
        self.source = source
        self.group = group
        self.key = key

    def payload_json(self) -> str:
        try:
            return self._payload
        except AttributeError:
            self._payload: str = _encode({"data": self})
            return self._payload


def _encode(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson cannot encode (integers beyond 64 bits): as Strawberry
        return json.dumps(value, separators=(",", ":"))


def shared_result(message: Mapping[str, object]) -> tuple[str, str, SharedData] | None:
    """The operation id, message type and data of a ``next`` (graphql-transport-ws) or
    ``data`` (graphql-ws) message whose payload is only shared data; None for any other
    message."""
    payload = message.get("payload")
    if type(payload) is not dict or len(payload) != 1 or len(message) != 3:
        return None
    data = payload.get("data")
    kind = message.get("type")
    operation = message.get("id")
    if type(data) is not SharedData or kind not in ("next", "data") or type(operation) is not str:
        return None
    return operation, kind, data


def encode_frame(operation_id: str, kind: str, data: SharedData) -> str:
    """The frame's text, as Strawberry's handlers would send it (orjson's encoding)."""
    return f'{{"id":{_encode(operation_id)},"type":"{kind}","payload":{data.payload_json()}}}'


class SharedEvents:
    """Recent feed events, one GraphQL object per (model, tenant scope, records): the
    records' checkpoints name entries of one change log, so every subscriber in that
    scope that receives them receives the same thing. Bounded: a subscriber far behind
    the others just executes its own copy."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._events: OrderedDict[Hashable, Any] = OrderedDict()

    def change(self, change: DomainChange, tenant: str | None) -> t.Change:
        """The one GraphQL ``Change`` object for a feed change, whoever receives it."""
        # The id is part of the key: views scoped to a tenant show ids of their own.
        key = ("change", change.model, tenant, change.checkpoint, change.model_id)
        return self._shared(key, lambda: t.Change.of(change))  # type: ignore[no-any-return]

    def page(
        self, model: str, tenant: str | None, page: StatePage, build: Callable[[], Any]
    ) -> Any:
        """The one GraphQL pull bulk for a page of ``stream<Model>``, whoever receives it."""
        checkpoints = tuple(d.checkpoint for d in page.documents)
        return self._shared(("page", model, tenant, page.checkpoint, checkpoints), build)

    def _shared(self, key: Hashable, build: Callable[[], Any]) -> Any:
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = build()
            setattr(event, SHARED, {})
            if len(self._events) > self.size:
                self._events.popitem(last=False)
        return event


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        results: dict[Any, ExecutionResult] | None = getattr(self.root_value, SHARED, None)
        key = self._sharing_key() if results is not None else None
        if key is None:
            return super().execute_operation(serially)
        assert results is not None
        shared = results.get(key)
        if shared is not None:
            return shared
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            result.data = SharedData(result.data, self.root_value, self, key)
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
