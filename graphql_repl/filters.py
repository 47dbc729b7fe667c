"""LoopBack-style ``where`` filters, parsed once into a small tree that each store compiles
to its own query language.

Accepted forms (as in LoopBack)::

    {"title": "x"}                         equality (on a list field: the list contains it)
    {"views": {"gt": 3, "lte": 10}}        gt gte lt lte neq inq nin like
    {"and": [...]}, {"or": [...]}          nesting; several keys in one object mean "and"

``like`` takes an SQL pattern: ``%`` matches any run of characters, ``_`` one character,
and is case-sensitive. A filter naming an unknown field or operator, or comparing a field
with a value of the wrong type, raises ``BadFilter`` naming the problem.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Union

from .errors import BadFilter, InvalidDocument
from .models import Field, FieldType, Model, coerce_value

COMPARISONS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "inq", "nin", "like"})
MAX_DEPTH = 32


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any
    is_list: bool  # the field holds a list: eq/neq/inq/nin test membership


@dataclass(frozen=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Filter, ...]


Filter = Union[Condition, And, Or]  # noqa: UP007 - a forward-referencing alias


# Matches no document (every document has an id); used to scope a tenant-bound token to a
# model that has no tenant field.
NOTHING = Condition("id", "eq", None, False)


def parse_filter(model: Model, where: Any) -> Filter | None:
    """Parse a ``where`` object for ``model``; ``None`` or ``{}`` mean no filter."""
    if where is None or where == {}:
        return None
    return _parse(model, where, "where", 0)


def conjoin(*filters: Filter | None) -> Filter | None:
    """The "and" of the given filters, ignoring ``None``."""
    parts = tuple(f for f in filters if f is not None)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)


def _parse(model: Model, where: Any, path: str, depth: int) -> Filter:
    if depth > MAX_DEPTH:
        raise BadFilter(f"{path}: filter nested too deeply")
    if not isinstance(where, dict) or not where:
        raise BadFilter(f"{path}: expected a non-empty object")
    parts: list[Filter] = []
    for key, value in where.items():
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                raise BadFilter(f"{path}.{key}: expected a non-empty list of filters")
            subs = tuple(
                _parse(model, v, f"{path}.{key}[{i}]", depth + 1) for i, v in enumerate(value)
            )
            parts.append(And(subs) if key == "and" else Or(subs))
            continue
        spec = model.by_name.get(key)
        if spec is None:
            raise BadFilter(f"{path}: unknown field {key!r} of model {model.name}")
        if isinstance(value, dict):
            if not value:
                raise BadFilter(f"{path}.{key}: expected an operator")
            for op, operand in value.items():
                parts.append(_condition(model, spec, op, operand, f"{path}.{key}.{op}"))
        else:
            parts.append(_condition(model, spec, "eq", value, f"{path}.{key}"))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _condition(model: Model, spec: Field, op: str, operand: Any, path: str) -> Condition:
    if op not in COMPARISONS:
        raise BadFilter(f"{path}: unknown operator {op!r}")
    is_list = spec.type is FieldType.STRING_LIST
    scalar = Field(spec.name, FieldType.STRING) if is_list else spec
    if op in ("inq", "nin"):
        if not isinstance(operand, list):
            raise BadFilter(f"{path}: expected a list")
        value: Any = tuple(_scalar(model, scalar, v, path) for v in operand)
    elif op == "like":
        if not isinstance(operand, str) or spec.type not in (FieldType.STRING, FieldType.ID):
            raise BadFilter(f"{path}: like compares a string field with a string pattern")
        value = operand
    elif operand is None:
        if op not in ("eq", "neq"):
            raise BadFilter(f"{path}: null can only be compared with equality")
        value = None
    else:
        value = _scalar(model, scalar, operand, path)
    return Condition(spec.name, op, value, is_list)


def _scalar(model: Model, spec: Field, value: Any, path: str) -> Any:
    if isinstance(value, dict | list):
        raise BadFilter(f"{path}: expected a scalar value")
    try:
        return coerce_value(model.name, spec, value)
    except InvalidDocument as exc:
        raise BadFilter(f"{path}: {exc.message}") from None


def matches(node: Filter | None, document: dict[str, Any]) -> bool:
    """Evaluate a parsed filter on a document in memory, with the stores' semantics (used
    where changes are already in memory, such as the live feed)."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(p, document) for p in node.parts)
    if isinstance(node, Or):
        return any(matches(p, document) for p in node.parts)
    value = document.get(node.field)
    op, operand = node.op, node.value
    if node.is_list and op in ("eq", "neq", "inq", "nin") and operand is not None:
        items = value if isinstance(value, list) else []
        wanted = operand if op in ("inq", "nin") else (operand,)
        found = any(item in wanted for item in items)
        return found if op in ("eq", "inq") else not found
    if op == "eq":
        return value is None if operand is None else value is not None and value == operand
    if op == "neq":
        return value is not None if operand is None else value is None or value != operand
    if op == "inq":
        return value is not None and value in operand
    if op == "nin":
        return value is None or value not in operand
    if value is None:
        return False
    if op == "like":
        return isinstance(value, str) and fnmatch.fnmatchcase(value, like_to_glob(operand))
    try:
        if op == "gt":
            return bool(value > operand)
        if op == "gte":
            return bool(value >= operand)
        if op == "lt":
            return bool(value < operand)
        return bool(value <= operand)
    except TypeError:
        return False


def like_to_glob(pattern: str) -> str:
    """An SQL LIKE pattern (``%``, ``_``) as a case-sensitive glob pattern."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)
