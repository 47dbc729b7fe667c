"""Typed sync for web apps, per model (CONTRACT §8): ``pullNote``, ``pushNote`` and
``streamNote``, with the names and shapes of RxDB's GraphQL replication protocol, so that
RxDB's own query builders work against the server unmodified and Apollo Client and urql
can cache what they return (every document type has ``id``)."""

import dataclasses
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from ..auth import Permission as Perm
from ..errors import BadInput
from ..replication import PushRow, StatePage
from .context import Context, caller_model
from .model_types import ModelTypes
from .permissions import guarded
from .push_rows import refusals
from .scalars import Checkpoint
from .subscriptions import check_can_subscribe, counted
from .typed_fields import lower_first


def sync_fields(types: ModelTypes) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The pull query, push mutation and stream subscription of a model."""
    model = types.model
    name, lower = model.name, lower_first(model.name)

    async def pull(info: strawberry.Info, checkpoint: Any = None, *, limit: Any) -> Any:
        since = None if checkpoint is None else checkpoint.seq
        page = await caller_model(info, name).pull(since, limit)
        return types.bulk(page.documents, page.checkpoint)

    async def push(info: strawberry.Info, rows: list[PushRow] | None = None) -> Any:
        rows = rows or []
        most = info.context.settings.max_batch
        if len(rows) > most:
            raise BadInput(f"At most {most} push rows per request")
        refused = refusals(info.root_value, str(info.path.key))
        if refused:
            rows = [
                dataclasses.replace(r, refused=refused[i]) if i in refused else r
                for i, r in enumerate(rows)
            ]
        pushed = await caller_model(info, name).push(rows)
        return [types.build(s) for s in pushed.masters]

    async def stream(
        info: strawberry.Info, headers: Any = None, since: Any = None
    ) -> AsyncGenerator[Any, None]:
        # A coroutine returning the stream, so that refusals come when it starts.
        context: Context = info.context
        check_can_subscribe(context)
        # The field's permission checked this caller (the connection's, or the headers').
        principal = await context.caller(headers)

        async def recheck() -> None:
            await context.recheck(principal)

        view = context.view_of(principal)
        pages = view.stream(name, since, recheck, context.settings.auth_recheck_interval)

        def render(page: StatePage) -> Any:
            return context.events.page(
                name, view.tenant, page, lambda: types.bulk(page.documents, page.checkpoint)
            )

        return counted(context, pages, render)

    pull.__annotations__.update(
        checkpoint=Annotated[
            types.input_checkpoint | None,
            strawberry.argument(description="Where the last pull ended (null: from the start)."),
        ],
        limit=Annotated[int, strawberry.argument(description="At most this many (1..5000).")],
        **{"return": types.pull_bulk},
    )
    push.__annotations__.update(
        rows=Annotated[
            list[PushRow] | None,
            strawberry.argument(
                name=f"{lower}PushRow",
                description="The rows to push.",
                graphql_type=list[types.push_row] | None,  # type: ignore[name-defined]
            ),
        ],
        **{"return": list[types.document]},  # type: ignore[name-defined]
    )
    stream.__annotations__.update(
        headers=Annotated[
            types.headers | None,
            strawberry.argument(description="Any JSON object; see the scalar's description."),
        ],
        since=Annotated[
            Checkpoint | None,
            strawberry.argument(
                description="First every change after this checkpoint, then live ones (null: "
                "live ones only)."
            ),
        ],
        **{"return": AsyncGenerator[types.pull_bulk, None]},  # type: ignore[name-defined]
    )
    query = {
        f"pull{name}": guarded(
            strawberry.field,
            Perm.READ,
            f"The {name} documents changed after `checkpoint`, each once in its "
            "latest state, in log order (RxDB's pull).",
            name,
            resolver=pull,
            name=f"pull{name}",
        )
    }
    mutation = {
        f"push{name}": guarded(
            strawberry.mutation,
            Perm.WRITE,
            f"Write {name} rows whose assumed master state is current, merge the "
            "others per field; answers the master state of every row not written as sent "
            "(RxDB's push).",
            name,
            resolver=push,
            name=f"push{name}",
        )
    }
    subscription = {
        f"stream{name}": guarded(
            strawberry.subscription,
            Perm.READ,
            f"{name} documents as they change, in batches (RxDB's pull stream).",
            name,
            resolver=stream,
            name=f"stream{name}",
        )
    }
    return query, mutation, subscription
