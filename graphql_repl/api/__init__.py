"""The GraphQL API: a thin adapter over the replication layer."""

from .context import Context
from .schema import build_schema

__all__ = ["Context", "build_schema"]
