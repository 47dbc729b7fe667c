"""The one place where errors become the contract's codes (CONTRACT §6).

- our own errors (``ReplError``) keep their message and carry their ``code``;
- errors about the request itself (syntax, validation, argument and variable types: they
  have no path) are ``BAD_USER_INPUT``;
- anything else is logged with its traceback and answered with a generic
  ``INTERNAL_SERVER_ERROR`` message, so no internals reach the client.
"""

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from ..errors import BadCheckpoint, FeedOverflow, ReplError

log = logging.getLogger(__name__)


def error_body(message: str, code: str) -> dict[str, Any]:
    """A whole GraphQL response that is one error with the contract's ``code``, for answers
    given before (or instead of) executing a request: unreadable or oversized bodies."""
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


def to_contract(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    extensions: dict[str, Any]
    if isinstance(original, ReplError):
        message, extensions = original.message, {"code": original.code}
        if isinstance(original, FeedOverflow):
            extensions["checkpoint"] = original.checkpoint
        if isinstance(original, BadCheckpoint) and original.resync:
            extensions["resync"] = True
    elif original is None or error.path is None:
        message, extensions = error.message, {"code": "BAD_USER_INPUT"}
    else:
        log.error("Unexpected error in %s", ".".join(map(str, error.path)), exc_info=original)
        message, extensions = "Internal server error", {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def code_of(error: GraphQLError) -> str:
    """The contract code ``error`` has, or ``to_contract`` gives it."""
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    original = error.original_error
    if isinstance(original, ReplError):
        return original.code
    return "BAD_USER_INPUT" if original is None or error.path is None else "INTERNAL_SERVER_ERROR"


def is_contract_error(error: GraphQLError) -> bool:
    return bool(error.extensions and "code" in error.extensions)


class ContractErrors(SchemaExtension):
    """Rewrites every error of a result into the contract's shape."""

    def on_operation(self) -> Iterator[None]:
        yield
        _rewrite(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Subscriptions (and any operation over WebSocket) send each result before
        # on_operation ends: rewrite every streamed result as it goes out.
        _rewrite(result)
        yield


def _rewrite(result: Any) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [e if is_contract_error(e) else to_contract(e) for e in errors]
