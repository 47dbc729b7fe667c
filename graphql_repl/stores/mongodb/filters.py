"""Filters compiled to MongoDB queries on a subdocument."""

from __future__ import annotations

import re
from typing import Any

from ...filters import And, Condition, Filter, Or


def compile_filter(where: Filter | None, prefix: str) -> dict[str, Any]:
    """A parsed filter as a MongoDB query on the subdocument ``prefix``."""
    return {} if where is None else _compile(where, prefix)


def _compile(node: Filter, prefix: str) -> dict[str, Any]:
    if isinstance(node, And):
        return {"$and": [_compile(p, prefix) for p in node.parts]}
    if isinstance(node, Or):
        return {"$or": [_compile(p, prefix) for p in node.parts]}
    return {f"{prefix}.{node.field}": _condition(node)}


def _condition(c: Condition) -> Any:
    # MongoDB's own semantics match the contract's: equality on a list field means "the
    # list contains it", $ne and $nin match documents without the field, null matches
    # a missing field.
    op, value = c.op, c.value
    if op == "eq":
        return {"$eq": value}
    if op == "neq":
        return {"$ne": value}
    if op in ("inq", "nin"):
        return {"$in" if op == "inq" else "$nin": list(value)}
    if op == "like":
        return {"$regex": like_to_regex(value)}
    return {f"${op}": value}


def like_to_regex(pattern: str) -> str:
    """An SQL LIKE pattern (``%``, ``_``) as an anchored, case-sensitive regex."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("[\\s\\S]*")  # any characters, line breaks included
        elif ch == "_":
            out.append("[\\s\\S]")
        else:
            out.append(re.escape(ch))
    return "^" + "".join(out) + "$"
