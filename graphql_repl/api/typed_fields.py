"""Typed fields for web apps, per model (CONTRACT §4): ``notes``, ``note``,
``createNote``, ``updateNote``, ``deleteNote``, named after the model."""

import re
from typing import Annotated, Any

import strawberry

from ..auth import Permission as Perm
from ..models import Model
from .context import caller_model
from .fixed_fields import Where
from .model_types import ModelTypes, as_dict
from .permissions import guarded

RESERVED = {"Change", "ChangePage", "Conflict", "Diff", "Query", "Mutation", "Subscription"}

Limit = Annotated[int, strawberry.argument(description="At most this many (1..5000).")]
Offset = Annotated[int, strawberry.argument(description="Skip this many first.")]


def plural(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def typed_fields(types: ModelTypes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The typed query and mutation fields of a model (notes, note, createNote, ...)."""
    model: Model = types.model
    if model.name in RESERVED:
        raise ValueError(f"A model cannot be named {model.name}: the schema uses that name")
    name = model.name
    the_id = Annotated[strawberry.ID, strawberry.argument(description=f"The {name}'s id.")]

    async def list_docs(
        info: strawberry.Info, where: Where = None, limit: Limit = 100, offset: Offset = 0
    ) -> Any:
        states = await caller_model(info, name).find_states(where, limit, offset)
        return [types.build(s) for s in states]

    async def get_doc(info: strawberry.Info, id: the_id) -> Any:
        state = await caller_model(info, name).documents.get(str(id))
        return None if state is None else types.build(state)

    async def create_doc(info: strawberry.Info, data: Any) -> Any:
        local = caller_model(info, name)
        return types.build(await local.documents.create(as_dict(data, model.by_name)))

    async def update_doc(info: strawberry.Info, id: the_id, data: Any) -> Any:
        patch = as_dict(data, model.by_name)
        return types.build(await caller_model(info, name).documents.update(str(id), patch))

    async def delete_doc(info: strawberry.Info, id: the_id) -> bool:
        return await caller_model(info, name).delete(str(id))

    document = types.document
    list_docs.__annotations__["return"] = list[document]  # type: ignore[valid-type]
    get_doc.__annotations__["return"] = document | None
    create_doc.__annotations__.update(
        data=Annotated[types.create, strawberry.argument(description=f"The new {name}.")],
        **{"return": document},
    )
    update_doc.__annotations__.update(
        data=Annotated[
            types.patch,
            strawberry.argument(description="Fields to set; fields not given keep their values."),
        ],
        **{"return": document},
    )

    lower = lower_first(name)
    queries = {
        plural(lower): guarded(
            strawberry.field,
            Perm.READ,
            f"Live {name} documents matching `where`, by id.",
            name,
            resolver=list_docs,
            name=plural(lower),
        ),
        lower: guarded(
            strawberry.field,
            Perm.READ,
            f"The {name} with this id (null when there is none).",
            name,
            resolver=get_doc,
            name=lower,
        ),
    }
    mutations = {
        f"create{name}": guarded(
            strawberry.mutation,
            Perm.WRITE,
            f"Create a {name} (its id chosen by the client, or generated).",
            name,
            resolver=create_doc,
            name=f"create{name}",
        ),
        f"update{name}": guarded(
            strawberry.mutation,
            Perm.WRITE,
            f"Patch a {name}: fields not given keep their values, null removes a field.",
            name,
            resolver=update_doc,
            name=f"update{name}",
        ),
        f"delete{name}": guarded(
            strawberry.mutation,
            Perm.WRITE,
            f"Delete a {name}; false when there was nothing the caller may "
            "delete. Cached copies can evict it, or follow stream"
            f"{name} for its tombstone.",
            name,
            resolver=delete_doc,
            name=f"delete{name}",
        ),
    }
    return queries, mutations
