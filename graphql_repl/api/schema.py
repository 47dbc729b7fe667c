"""The GraphQL schema: the contract's fixed fields plus typed fields for every model, with
the limits on query size and the contract's error codes."""

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from ..models import Registry
from ..settings import Settings
from .errors import ContractErrors
from .fixed_fields import FixedMutation, FixedQuery, FixedSubscription
from .model_types import model_types
from .operations import OperationLog, RootFields
from .push_rows import PushRowScreen
from .rendering import FlatLists
from .sync_fields import sync_fields
from .typed_fields import typed_fields

log = logging.getLogger(__name__)


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


def _size_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The validation rules of QueryDepthLimiter and MaxAliasesLimiter, made once per
    schema: those extensions make new rule classes for every request, and a request whose
    rules differ misses ValidationCache (keyed by the document and the rules), so every
    request was validated again. Introspection is left out of the depth; graphql-core
    bounds it itself (MaxIntrospectionDepthRule: no cyclic __Type → __Field → __Type
    blow-up)."""
    return [
        depth_validator(settings.max_depth, None),
        alias_validator(settings.max_aliases),
    ]


def build_schema(registry: Registry, settings: Settings | None = None) -> strawberry.Schema:
    """The schema for ``registry``'s models, with ``settings``' limits on query size."""
    settings = settings or Settings()
    query_fields: dict[str, Any] = {}
    mutation_fields: dict[str, Any] = {}
    subscription_fields: dict[str, Any] = {}
    typed_models: dict[str, str] = {}  # typed root field -> its model
    for model in registry:
        types = model_types(model)
        queries, mutations = typed_fields(types)
        pull, push, stream = sync_fields(types)
        query_fields.update(queries, **pull)
        mutation_fields.update(mutations, **push)
        subscription_fields.update(stream)
        for fields in (queries, mutations, pull, push, stream):
            typed_models.update(dict.fromkeys(fields, model.name))
    roots = RootFields()
    query = strawberry.type(
        type("Query", (FixedQuery,), query_fields),
        name="Query",
        description="Reads: the change log and conflicts of any model (replication), and "
        "typed reads and pulls per model (web apps). Each field says the permission it needs.",
    )
    mutation = strawberry.type(
        type("Mutation", (FixedMutation,), mutation_fields),
        name="Mutation",
        description="Writes: diff, bulkUpdate, replicate and resolveConflict (replication), and "
        "typed writes and pushes per model (web apps).",
    )
    subscription = strawberry.type(
        type("Subscription", (FixedSubscription,), subscription_fields),
        name="Subscription",
        description="Live feeds over WebSocket (graphql-transport-ws or graphql-ws): the change "
        "feed of any model, and a typed stream per model.",
    )
    schema = Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        # Clients send the same few documents over and over: parse and validate each once.
        extensions=[
            # First: it times the others, and sees errors once they have their codes.
            functools.partial(OperationLog, roots=roots),
            ContractErrors,
            PushRowScreen,
            functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
            functools.partial(AddValidationRules, _size_rules(settings)),
            functools.partial(ReportingParserCache, maxsize=256),
            functools.partial(ValidationCache, maxsize=256),
        ],
        execution_context_class=FlatLists,
    )
    # graphql-core's schema, which Strawberry builds: the one list of the root fields.
    roots.fill(schema._schema, typed_models)
    return schema
