"""The GraphQL schema: the contract's fixed fields plus typed fields for every model.

Resolvers are thin: they parse arguments, pick the caller's view of the model (narrowed to
its tenant), call the replication layer and shape the result. Permissions are not checked
here; the ``@auth`` directive on each field does that.
"""

import contextlib
import functools
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from ..auth import Permission as Perm
from ..errors import BadInput
from ..models import Field, FieldType, Model, Registry
from ..replication import Change, LocalModel
from ..replication import CheckpointPair as DomainPair
from ..settings import Settings
from . import types as t
from .context import Context
from .errors import ContractErrors
from .fanout import SharedEventExecutor
from .permissions import requires
from .scalars import JSON, Checkpoint

log = logging.getLogger(__name__)


def _local(info: strawberry.Info, name: str) -> LocalModel:
    context: Context = info.context
    tenant = context.principal.tenant if context.principal else None
    return context.repository.model(name).scoped(tenant)


def _batch(info: strawberry.Info, items: list[Any], what: str) -> None:
    most = info.context.repository.settings.max_batch
    if len(items) > most:
        raise BadInput(f"At most {most} {what} per request")


@strawberry.type
class FixedQuery:
    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def checkpoint(self, info: strawberry.Info, model: str) -> Checkpoint:
        return await _local(info, model).checkpoint()

    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def changes(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        where: JSON | None = None,
        limit: int | None = 500,
        until: Annotated[
            Checkpoint | None,
            strawberry.argument(description="Stop at this checkpoint (inclusive)."),
        ] = None,
    ) -> t.ChangePage:
        page = await _local(info, model).changes(
            since, where, 500 if limit is None else limit, until
        )
        return t.ChangePage(
            changes=[t.Change.of(c) for c in page.changes],
            checkpoint=page.checkpoint,
            has_more=page.has_more,
        )

    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def conflicts(self, info: strawberry.Info, model: str) -> list[t.Conflict]:
        return [t.Conflict.of(c) for c in await _local(info, model).conflicts()]


@strawberry.type
class FixedMutation:
    @strawberry.mutation(extensions=requires(Perm.REPLICATE))
    async def diff(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        *,
        changes: list[t.ChangeInput],
    ) -> t.Diff:
        _batch(info, changes, "changes")
        result = await _local(info, model).diff(since, [c.to_domain() for c in changes])
        return t.Diff(
            deltas=[t.Change.of(c) for c in result.deltas],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
        )

    @strawberry.mutation(extensions=requires(Perm.WRITE))
    async def bulk_update(
        self, info: strawberry.Info, model: str, updates: list[t.UpdateInput]
    ) -> t.BulkUpdateResult:
        _batch(info, updates, "updates")
        result = await _local(info, model).bulk_update([u.to_domain() for u in updates])
        return t.BulkUpdateResult(
            results=[t.UpdateResult.of(u) for u in result.results],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
            checkpoint=result.checkpoint,
        )

    @strawberry.mutation(extensions=requires(Perm.REPLICATE))
    async def replicate(
        self,
        info: strawberry.Info,
        # Not named ``source`` in Python: Strawberry passes the parent value to permission
        # extensions as ``source``, which would collide with this argument.
        source_model: Annotated[str, strawberry.argument(name="source")],
        target: str,
        since: t.CheckpointPairInput | None = None,
        where: JSON | None = None,
    ) -> t.ReplicationResult:
        context: Context = info.context
        tenant = context.principal.tenant if context.principal else None
        pair = DomainPair(since.source, since.target) if since else None
        result = await context.repository.replicate(source_model, target, pair, where, tenant)
        return t.ReplicationResult(
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
            checkpoints=t.CheckpointPair(
                source=result.checkpoints.source or "", target=result.checkpoints.target or ""
            ),
            updates=[t.UpdateResult.of(u) for u in result.updates],
        )

    @strawberry.mutation(extensions=requires(Perm.WRITE))
    async def resolve_conflict(
        self,
        info: strawberry.Info,
        model: str,
        model_id: strawberry.ID,
        using: t.Resolution,
        data: JSON | None = None,
    ) -> JSON | None:
        return await _local(info, model).resolve_conflict(str(model_id), using, data)


@strawberry.type
class Subscription:
    @strawberry.subscription(extensions=requires(Perm.REPLICATE))
    async def change_feed(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        where: JSON | None = None,
    ) -> AsyncGenerator[t.Change, None]:
        # A coroutine returning the stream (not an async generator itself), so that
        # refusals are answered when the subscription starts, over HTTP too.
        context: Context = info.context
        if not context.over_websocket:
            raise BadInput(
                "Subscriptions are served over WebSocket (graphql-transport-ws or graphql-ws) "
                "on this same path"
            )
        # The field's permission has just checked the caller (``context.principal``).
        principal = context.principal
        assert principal is not None
        settings = context.repository.settings
        if context.subscriptions >= settings.max_subscriptions:
            raise BadInput(
                f"At most {settings.max_subscriptions} subscriptions per connection; "
                "complete one before starting another"
            )

        feed = context.repository.feed(
            model,
            since,
            where,
            principal.tenant,
            context.verified_principal,  # raises once the token is revoked or expired
            settings.auth_recheck_interval,
        )
        return _stream(context, feed)


async def _stream(context: Context, feed: AsyncIterator[Change]) -> AsyncGenerator[t.Change, None]:
    context.subscriptions += 1
    try:
        async for change in feed:
            yield context.events.get(change)
    finally:
        context.subscriptions -= 1


# -- typed fields per model ---------------------------------------------------------------

_SCALARS: dict[FieldType, Any] = {
    FieldType.ID: strawberry.ID,
    FieldType.STRING: str,
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOLEAN: bool,
    FieldType.STRING_LIST: list[str | None],
    FieldType.JSON: JSON,
}
RESERVED = {"Change", "ChangePage", "Conflict", "Diff", "Query", "Mutation", "Subscription"}


def _plural(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def _graphql_type(model: Model) -> type:
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for f in model.by_name.values():
        if f.name == "id":
            annotations["id"] = strawberry.ID
        else:
            annotations[f.name] = _SCALARS[f.type] | None
            defaults[f.name] = None
    cls = type(model.name, (), {"__annotations__": annotations, **defaults})
    return strawberry.type(cls, name=model.name, description=f"A {model.name} document.")


def _input_type(model: Model, suffix: str, with_id: bool) -> type:
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for f in model.by_name.values():
        if f.name == "id" and not with_id:
            continue
        kind: Any = strawberry.ID if f.type is FieldType.ID else _SCALARS[f.type]
        annotations[f.name] = kind | None
        defaults[f.name] = strawberry.UNSET
    cls = type(model.name + suffix, (), {"__annotations__": annotations, **defaults})
    return strawberry.input(cls, name=model.name + suffix)


def _as_dict(value: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """An input object as a document: fields left out are absent, nulls stay null."""
    out = {}
    for name in fields:
        item = getattr(value, name, strawberry.UNSET)
        if item is not strawberry.UNSET:
            out[name] = str(item) if name == "id" and item is not None else item
    return out


def _typed_fields(model: Model) -> tuple[dict[str, Any], dict[str, Any]]:
    """The typed query and mutation fields of ``model`` (notes, note, createNote, ...)."""
    if model.name in RESERVED:
        raise ValueError(f"A model cannot be named {model.name}: the schema uses that name")
    name = model.name
    output = _graphql_type(model)
    create_input = _input_type(model, "Input", with_id=True)
    patch_input = _input_type(model, "Patch", with_id=False)

    def build(doc: dict[str, Any]) -> Any:
        return output(**{k: doc.get(k) for k in model.by_name})

    async def list_docs(
        info: strawberry.Info, where: JSON | None = None, limit: int = 100, offset: int = 0
    ) -> Any:
        return [build(d) for d in await _local(info, name).find(where, limit, offset)]

    async def get_doc(info: strawberry.Info, id: strawberry.ID) -> Any:
        doc = await _local(info, name).get(str(id))
        return None if doc is None else build(doc)

    async def create_doc(info: strawberry.Info, data: Any) -> Any:
        return build(await _local(info, name).create(_as_dict(data, model.by_name)))

    async def update_doc(info: strawberry.Info, id: strawberry.ID, data: Any) -> Any:
        return build(await _local(info, name).update(str(id), _as_dict(data, model.by_name)))

    async def delete_doc(info: strawberry.Info, id: strawberry.ID) -> bool:
        return await _local(info, name).delete(str(id))

    list_docs.__annotations__["return"] = list[output]  # type: ignore[valid-type]
    get_doc.__annotations__["return"] = output | None
    create_doc.__annotations__.update(data=create_input, **{"return": output})
    update_doc.__annotations__.update(data=patch_input, **{"return": output})

    lower = _lower_first(name)
    queries = {
        _plural(lower): strawberry.field(
            resolver=list_docs, name=_plural(lower), extensions=requires(Perm.READ, name)
        ),
        lower: strawberry.field(resolver=get_doc, name=lower, extensions=requires(Perm.READ, name)),
    }
    mutations = {
        f"create{name}": strawberry.mutation(
            resolver=create_doc, name=f"create{name}", extensions=requires(Perm.WRITE, name)
        ),
        f"update{name}": strawberry.mutation(
            resolver=update_doc, name=f"update{name}", extensions=requires(Perm.WRITE, name)
        ),
        f"delete{name}": strawberry.mutation(
            resolver=delete_doc, name=f"delete{name}", extensions=requires(Perm.WRITE, name)
        ),
    }
    return queries, mutations


class ReportingParserCache(ParserCache):
    """Strawberry's ParserCache, except that a syntax error is left to Strawberry's own
    parse, which reports it like any other request error (ParserCache raises it out of
    the operation, past the extension that gives errors their contract codes)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


class Schema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # One result per request (plain HTTP): a subscription has no place there; it is
        # refused before it runs (streams go through ``subscribe``/``stream``).
        allowed = set(OperationType if allowed_operation_types is None else allowed_operation_types)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors are answers to the client (ContractErrors shapes them and logs the
        # unexpected ones with their tracebacks), not incidents to log here.
        for error in errors:
            log.debug("GraphQL error: %s", error.message)


def build_schema(registry: Registry, settings: Settings | None = None) -> strawberry.Schema:
    """The schema for ``registry``'s models, with ``settings``' limits on query size."""
    settings = settings or Settings()
    query_fields: dict[str, Any] = {}
    mutation_fields: dict[str, Any] = {}
    for model in registry:
        queries, mutations = _typed_fields(model)
        query_fields.update(queries)
        mutation_fields.update(mutations)
    query = strawberry.type(type("Query", (FixedQuery,), query_fields), name="Query")
    mutation = strawberry.type(type("Mutation", (FixedMutation,), mutation_fields), name="Mutation")
    return Schema(
        query=query,
        mutation=mutation,
        subscription=Subscription,
        # Clients send the same few documents over and over: parse and validate each once.
        extensions=[
            ContractErrors,
            functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
            # Introspection is left out here; graphql-core bounds it itself
            # (MaxIntrospectionDepthRule: no cyclic __Type → __Field → __Type blow-up).
            functools.partial(QueryDepthLimiter, max_depth=settings.max_depth),
            functools.partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
            functools.partial(ReportingParserCache, maxsize=256),
            functools.partial(ValidationCache, maxsize=256),
        ],
        execution_context_class=SharedEventExecutor,
    )
