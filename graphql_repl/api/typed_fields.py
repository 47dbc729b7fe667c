"""Typed fields for web apps, per model (CONTRACT §4): ``notes``, ``note``,
``createNote``, ``updateNote``, ``deleteNote`` and their types, named after the model."""

import re
from collections.abc import Mapping
from typing import Any

import strawberry

from ..auth import Permission as Perm
from ..models import Field, FieldType, Model
from .context import caller_model
from .permissions import requires
from .scalars import JSON

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


def typed_fields(model: Model) -> tuple[dict[str, Any], dict[str, Any]]:
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
        return [build(d) for d in await caller_model(info, name).find(where, limit, offset)]

    async def get_doc(info: strawberry.Info, id: strawberry.ID) -> Any:
        doc = await caller_model(info, name).get(str(id))
        return None if doc is None else build(doc)

    async def create_doc(info: strawberry.Info, data: Any) -> Any:
        return build(await caller_model(info, name).create(_as_dict(data, model.by_name)))

    async def update_doc(info: strawberry.Info, id: strawberry.ID, data: Any) -> Any:
        return build(await caller_model(info, name).update(str(id), _as_dict(data, model.by_name)))

    async def delete_doc(info: strawberry.Info, id: strawberry.ID) -> bool:
        return await caller_model(info, name).delete(str(id))

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
