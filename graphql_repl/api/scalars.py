"""The contract's scalars: ``JSON`` (any JSON value) and ``Checkpoint`` (an opaque string)."""

from typing import TYPE_CHECKING, Any, NewType

import strawberry
from strawberry.scalars import JSON as _JSON


def _parse_checkpoint(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 512:
        raise ValueError("A checkpoint is a non-empty string returned by this server")
    return value


if TYPE_CHECKING:  # what the values are, for the type checker
    JSON = Any
    Checkpoint = str
else:
    JSON = _JSON
    Checkpoint = strawberry.scalar(
        NewType("Checkpoint", str),
        name="Checkpoint",
        description="An opaque position in a model's change log; pass it back as `since`.",
        serialize=str,
        parse_value=_parse_checkpoint,
    )

__all__ = ["JSON", "Checkpoint"]
