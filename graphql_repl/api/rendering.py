"""Lists of flat objects completed in one pass: a page of ``changes``, the results of a
``bulkUpdate``, the documents of a pull.

graphql-core completes a list of objects field by field: for each field of each item it
looks the field up, builds a resolve info, calls Strawberry's resolver (which reads the
attribute), then completes and serialises the value. For a page of a thousand changes of
nine fields, that is most of the server's time. When the items' selection is only plain
fields (leaves, or lists of leaves) of an object type, without arguments, aliases aside,
directives or fragments, and every field is one Strawberry reads as an attribute, each item
is the same as a dict of ``serialize(getattr(item, attribute))`` per field. ``FlatLists``
builds those dicts directly, with the very ``serialize`` of each field's type; anything
else, and any item that would need an error (a null in a non-null field, a value its type
cannot serialise), goes through graphql-core's own completion, which reports it as usual.
tests/api/test_rendering.py holds both to identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from strawberry.types.field import StrawberryField

from .fanout import SharedEventExecutor

# The key under which Strawberry keeps a field's definition in its graphql-core field.
DEFINITION = "strawberry-definition"

Render = Callable[[Any], Any]


class _Unsure(Exception):
    """An item the one-pass completion leaves to graphql-core (it may need an error)."""


class FlatLists(SharedEventExecutor):
    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        if isinstance(items, list | tuple) and items:
            render = self._flat(item_type, field_details_list)
            if render is not None:
                try:
                    return [render(item) for item in items]
                except _Unsure:
                    pass
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _flat(self, item_type: GraphQLOutputType, field_details_list: Any) -> Render | None:
        """How to complete one item of ``item_type`` in one pass (None: it cannot be)."""
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return None  # an extension resolves every field: each must go through it
        nullable = not isinstance(item_type, GraphQLNonNull)
        object_type = item_type if nullable else item_type.of_type  # type: ignore[union-attr]
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
            return None
        if len(field_details_list) != 1:
            return None
        node: FieldNode = field_details_list[0].node
        if node.directives or node.selection_set is None:
            return None
        plan: list[tuple[str, str, Render]] = []
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                return None
            if selection.arguments or selection.selection_set is not None:
                return None
            key = (selection.alias or selection.name).value
            name = selection.name.value
            if name == "__typename":
                plan.append((key, "", _constant(object_type.name)))
                continue
            field = object_type.fields.get(name)
            definition = field.extensions.get(DEFINITION) if field is not None else None
            if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
                return None
            if definition.default_resolver is not getattr:
                return None
            render = _leaf(field.type)
            if render is None:
                return None
            plan.append((key, definition.python_name, render))
        if len({key for key, _, _ in plan}) != len(plan):
            return None  # a field selected twice: graphql-core merges them
        return _item(plan, nullable)


def _item(plan: Sequence[tuple[str, str, Render]], nullable: bool) -> Render:
    def render(item: Any) -> Any:
        if item is None:
            if nullable:
                return None
            raise _Unsure
        try:
            return {key: field(getattr(item, name) if name else None) for key, name, field in plan}
        except AttributeError:
            raise _Unsure from None

    return render


def _constant(value: str) -> Render:
    return lambda _: value


def _leaf(kind: GraphQLOutputType) -> Render | None:
    """How a value of ``kind`` is serialised, when it is a leaf or a list of leaves."""
    nullable = not isinstance(kind, GraphQLNonNull)
    inner = kind if nullable else kind.of_type  # type: ignore[union-attr]
    if isinstance(inner, GraphQLList):
        item = _leaf(inner.of_type)
        if item is None or isinstance(inner.of_type, GraphQLList):
            return None
        each = item

        def many(value: Any) -> Any:
            if value is None:
                if nullable:
                    return None
                raise _Unsure
            if not isinstance(value, list | tuple):
                raise _Unsure
            return [each(v) for v in value]

        return many
    if not isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return None
    serialize = inner.serialize

    def one(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise _Unsure
        try:
            serialized = serialize(value)
        except Exception:
            raise _Unsure from None
        if serialized is None or serialized is Undefined:
            raise _Unsure
        return serialized

    return one
