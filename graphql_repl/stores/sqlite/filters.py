"""Filters compiled to SQL conditions on a JSON column (SQLite's JSON1 functions)."""

from __future__ import annotations

from typing import Any

from ...filters import And, Condition, Filter, Or, like_to_glob


def compile_filter(where: Filter | None, column: str) -> tuple[str, list[Any]]:
    """Compile a parsed filter to an SQL condition on the JSON in ``column``."""
    if where is None:
        return "1", []
    params: list[Any] = []
    return _compile(where, column, params), params


def _compile(node: Filter, column: str, params: list[Any]) -> str:
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_compile(p, column, params) for p in node.parts) + ")"
    return _condition(node, column, params)


def _condition(c: Condition, column: str, params: list[Any]) -> str:
    # Field names are validated identifiers ([A-Za-z][A-Za-z0-9_]*), safe inside the path.
    path = f"'$.{c.field}'"
    value = f"json_extract({column}, {path})"
    op = c.op
    # Compared with null, a list field is like any other: null means absent.
    if c.is_list and op in ("eq", "neq", "inq", "nin") and c.value is not None:
        values = c.value if op in ("inq", "nin") else (c.value,)
        params.extend(values)
        marks = ",".join("?" * len(values)) or "NULL"
        exists = f"EXISTS (SELECT 1 FROM json_each({column}, {path}) WHERE value IN ({marks}))"
        return exists if op in ("eq", "inq") else f"NOT {exists}"
    if op == "eq":
        if c.value is None:
            return f"{value} IS NULL"
        params.append(c.value)
        return f"{value} = ?"
    if op == "neq":
        if c.value is None:
            return f"{value} IS NOT NULL"
        params.append(c.value)
        return f"({value} IS NULL OR {value} != ?)"
    if op in ("inq", "nin"):
        params.extend(c.value)
        marks = ",".join("?" * len(c.value))
        if op == "inq":
            return f"{value} IN ({marks})" if marks else "0"
        return f"({value} IS NULL OR {value} NOT IN ({marks}))" if marks else "1"
    if op == "like":
        params.append(like_to_glob(c.value))
        return f"{value} GLOB ?"
    sql_op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    params.append(c.value)
    return f"{value} {sql_op} ?"
