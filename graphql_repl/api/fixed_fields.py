"""The fixed part of the schema (CONTRACT §2): the change log, diff, bulk update,
replicate, conflicts and the live change feed, for any model named by argument.

Resolvers are thin: they parse arguments, take the caller's view of the model (narrowed to
its tenant), call the replication layer and shape the result. Permissions are not checked
here; the ``@auth`` directive on each field does that.
"""

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from ..auth import Permission as Perm
from ..errors import BadInput
from ..replication import Change as DomainChange
from ..replication import CheckpointPair as DomainPair
from ..replication import Resolution, Update
from ..replication.types import DEFAULT_PAGE_SIZE
from . import types as t
from .context import Context, caller_model
from .permissions import guarded, requires
from .scalars import JSON, Checkpoint
from .subscriptions import check_can_subscribe, counted

ModelName = Annotated[str, strawberry.argument(description="The model's name, e.g. `Note`.")]
Where = Annotated[
    JSON | None,
    strawberry.argument(
        description="A LoopBack filter on document fields: equality, gt gte lt lte neq inq "
        "nin like, and/or."
    ),
]


def _batch(info: strawberry.Info, items: list[Any], what: str) -> None:
    most = info.context.settings.max_batch
    if len(items) > most:
        raise BadInput(f"At most {most} {what} per request")


@strawberry.type
class FixedQuery:
    @guarded(
        strawberry.field,
        Perm.REPLICATE,
        "The current end of the model's change log.",
    )
    async def checkpoint(self, info: strawberry.Info, model: ModelName) -> Checkpoint:
        return await caller_model(info, model).checkpoint()

    @guarded(
        strawberry.field,
        Perm.REPLICATE,
        "The latest change of each document changed after `since`, in log order, "
        "a page at a time; follow `checkpoint` while `hasMore`.",
    )
    async def changes(
        self,
        info: strawberry.Info,
        model: ModelName,
        since: Annotated[
            Checkpoint | None,
            strawberry.argument(description="Changes after this checkpoint (null: all history)."),
        ] = None,
        where: Where = None,
        limit: Annotated[
            int | None, strawberry.argument(description="At most this many per page (1..5000).")
        ] = DEFAULT_PAGE_SIZE,
        until: Annotated[
            Checkpoint | None,
            strawberry.argument(description="Stop at this checkpoint (inclusive)."),
        ] = None,
    ) -> t.ChangePage:
        page = await caller_model(info, model).changes(
            since, where, DEFAULT_PAGE_SIZE if limit is None else limit, until
        )
        return t.ChangePage(
            changes=[t.Change.of(c) for c in page.changes],
            checkpoint=page.checkpoint,
            has_more=page.has_more,
        )

    @guarded(
        strawberry.field,
        Perm.REPLICATE,
        "The model's recorded, unresolved conflicts.",
    )
    async def conflicts(self, info: strawberry.Info, model: ModelName) -> list[t.Conflict]:
        return [t.Conflict.of(c) for c in await caller_model(info, model).conflicts()]


@strawberry.type
class FixedMutation:
    @guarded(
        strawberry.mutation,
        Perm.REPLICATE,
        "LoopBack's diff: which of the remote `changes` are deltas to apply here "
        "and which conflict with a change made here after `since`.",
    )
    async def diff(
        self,
        info: strawberry.Info,
        model: ModelName,
        since: Annotated[
            Checkpoint | None,
            strawberry.argument(
                description="This side's checkpoint of the last sync (null: everything)."
            ),
        ] = None,
        *,
        changes: Annotated[
            list[t.ChangeInput], strawberry.argument(description="The remote side's changes.")
        ],
    ) -> t.Diff:
        _batch(info, changes, "changes")
        result = await caller_model(info, model).diff(since, [c.to_domain() for c in changes])
        return t.Diff(
            deltas=[t.Change.of(c) for c in result.deltas],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
        )

    @guarded(
        strawberry.mutation,
        Perm.WRITE,
        "Apply each update if this side is at its `prev`; otherwise merge per field "
        "or record a conflict. One bad update never aborts the others.",
    )
    async def bulk_update(
        self,
        info: strawberry.Info,
        model: ModelName,
        updates: Annotated[
            list[Update],
            strawberry.argument(
                description="The documents to apply.", graphql_type=list[t.UpdateInput]
            ),
        ],
    ) -> t.BulkUpdateResult:
        _batch(info, updates, "updates")
        result = await caller_model(info, model).bulk_update(updates)
        return t.BulkUpdateResult(
            results=[t.UpdateResult.of(u) for u in result.results],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
            checkpoint=result.checkpoint,
        )

    @strawberry.mutation(
        extensions=requires(Perm.REPLICATE),
        description="Copy the changes of model `source` into model `target` on this server, "
        "in chunks. Requires the REPLICATE permission on `source` and WRITE on `target`.",
    )
    async def replicate(
        self,
        info: strawberry.Info,
        # Not named ``source`` in Python: Strawberry passes the parent value to permission
        # extensions as ``source``, which would collide with this argument.
        source_model: Annotated[
            str, strawberry.argument(name="source", description="The model to copy from.")
        ],
        target: Annotated[str, strawberry.argument(description="The model to copy into.")],
        since: Annotated[
            t.CheckpointPairInput | None,
            strawberry.argument(description="Where the last replication stopped (null: start)."),
        ] = None,
        where: Where = None,
    ) -> t.ReplicationResult:
        context: Context = info.context
        pair = DomainPair(since.source, since.target) if since else None
        result = await context.view.replicate(source_model, target, pair, where)
        return t.ReplicationResult(
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
            checkpoints=t.CheckpointPair(
                source=result.checkpoints.source or "", target=result.checkpoints.target or ""
            ),
            updates=[t.UpdateResult.of(u) for u in result.updates],
        )

    @guarded(
        strawberry.mutation,
        Perm.WRITE,
        "Settle a recorded conflict: SOURCE writes the source side, TARGET keeps this side, "
        "MANUAL writes `data` (the whole document, not a patch). Answers the resulting "
        "document (null: deleted).",
    )
    async def resolve_conflict(
        self,
        info: strawberry.Info,
        model: ModelName,
        model_id: Annotated[strawberry.ID, strawberry.argument(description="The document's id.")],
        using: Annotated[t.Resolution, strawberry.argument(description="Which side wins.")],
        data: Annotated[
            JSON | None, strawberry.argument(description="The whole document, for MANUAL.")
        ] = None,
    ) -> JSON | None:
        resolution = Resolution[using.name]
        return await caller_model(info, model).resolve_conflict(str(model_id), resolution, data)


@strawberry.type
class FixedSubscription:
    @guarded(
        strawberry.subscription,
        Perm.REPLICATE,
        "The model's changes as they happen, in log order; with `since`, first every change "
        "after it, with no gap or repeat at the seam.",
    )
    async def change_feed(
        self,
        info: strawberry.Info,
        model: ModelName,
        since: Annotated[
            Checkpoint | None,
            strawberry.argument(
                description="Replay the changes after this checkpoint first (null: live "
                "changes only, unlike `changes`, where null means all history)."
            ),
        ] = None,
        where: Where = None,
    ) -> AsyncGenerator[t.Change, None]:
        # A coroutine returning the stream (not an async generator itself), so that
        # refusals are answered when the subscription starts, over HTTP too.
        context: Context = info.context
        check_can_subscribe(context)
        feed = context.view.feed(
            model,
            since,
            where,
            context.verified_principal,  # raises once the token is revoked or expired
            context.settings.auth_recheck_interval,
        )
        tenant = context.view.tenant

        def render(change: DomainChange) -> t.Change:
            return context.events.change(change, tenant)

        return counted(context, feed, render)  # type: ignore[return-value]
