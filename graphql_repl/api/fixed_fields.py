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
from ..replication import CheckpointPair as DomainPair
from ..replication.types import DEFAULT_PAGE_SIZE
from . import types as t
from .context import Context, caller_model
from .permissions import requires
from .scalars import JSON, Checkpoint
from .subscriptions import check_can_subscribe, counted


def _batch(info: strawberry.Info, items: list[Any], what: str) -> None:
    most = info.context.settings.max_batch
    if len(items) > most:
        raise BadInput(f"At most {most} {what} per request")


@strawberry.type
class FixedQuery:
    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def checkpoint(self, info: strawberry.Info, model: str) -> Checkpoint:
        return await caller_model(info, model).checkpoint()

    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def changes(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        where: JSON | None = None,
        limit: int | None = DEFAULT_PAGE_SIZE,
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

    @strawberry.field(extensions=requires(Perm.REPLICATE))
    async def conflicts(self, info: strawberry.Info, model: str) -> list[t.Conflict]:
        return [t.Conflict.of(c) for c in await caller_model(info, model).conflicts()]


@strawberry.type
class FixedMutation:
    @strawberry.mutation(extensions=requires(Perm.REPLICATE))
    async def diff(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        *,
        changes: list[t.ChangeInput],
    ) -> t.Diff:
        _batch(info, changes, "changes")
        result = await caller_model(info, model).diff(since, [c.to_domain() for c in changes])
        return t.Diff(
            deltas=[t.Change.of(c) for c in result.deltas],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
        )

    @strawberry.mutation(extensions=requires(Perm.WRITE))
    async def bulk_update(
        self, info: strawberry.Info, model: str, updates: list[t.UpdateInput]
    ) -> t.BulkUpdateResult:
        _batch(info, updates, "updates")
        result = await caller_model(info, model).bulk_update([u.to_domain() for u in updates])
        return t.BulkUpdateResult(
            results=[t.UpdateResult.of(u) for u in result.results],
            conflicts=[t.Conflict.of(c) for c in result.conflicts],
            checkpoint=result.checkpoint,
        )

    @strawberry.mutation(extensions=requires(Perm.REPLICATE))
    async def replicate(
        self,
        info: strawberry.Info,
        # Not named ``source`` in Python: Strawberry passes the parent value to permission
        # extensions as ``source``, which would collide with this argument.
        source_model: Annotated[str, strawberry.argument(name="source")],
        target: str,
        since: t.CheckpointPairInput | None = None,
        where: JSON | None = None,
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

    @strawberry.mutation(extensions=requires(Perm.WRITE))
    async def resolve_conflict(
        self,
        info: strawberry.Info,
        model: str,
        model_id: strawberry.ID,
        using: t.Resolution,
        data: JSON | None = None,
    ) -> JSON | None:
        return await caller_model(info, model).resolve_conflict(str(model_id), using, data)


@strawberry.type
class FixedSubscription:
    @strawberry.subscription(extensions=requires(Perm.REPLICATE))
    async def change_feed(
        self,
        info: strawberry.Info,
        model: str,
        since: Checkpoint | None = None,
        where: JSON | None = None,
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
        return counted(context, feed, context.events.get)  # type: ignore[return-value]
