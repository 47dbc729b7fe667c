"""The change log as a caller reads it: pages of changes since a checkpoint, and the live
pages a feed follows, each change in the caller's ids."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from ..filters import Filter
from ..stores.base import LogPage, Store, StoredDoc
from .tenancy import TenantScope
from .types import Change, ChangePage, ChangeType


def to_change(doc: StoredDoc, scope: TenantScope) -> Change:
    """A record of the log as the change it stands for, as ``scope`` shows it."""
    if doc.deleted:
        kind = ChangeType.DELETE
    else:
        kind = ChangeType.CREATE if doc.prev is None else ChangeType.UPDATE
    return Change(
        scope.model.name,
        scope.own_id(doc.model_id),
        kind,
        doc.rev,
        doc.prev,
        doc.checkpoint,
        None if doc.deleted else scope.shown(doc.data),
        doc.clock,
        doc.ancestors,
    )


def localize(change: Change, scope: TenantScope) -> Change:
    """A change as the unscoped log reported it, as ``scope`` shows it."""
    if scope.tenant is None:
        return change
    return dataclasses.replace(
        change, model_id=scope.own_id(change.model_id), data=scope.shown_or_none(change.data)
    )


class ChangeLog:
    """One model's change log in one scope."""

    def __init__(self, store: Store, scope: TenantScope) -> None:
        self.store = store
        self.scope = scope
        self.name = scope.model.name

    async def checkpoint(self) -> str:
        return await self.store.checkpoint(self.name)

    async def page(
        self, since: str | None, where: Filter | None, limit: int, until: str | None = None
    ) -> ChangePage:
        """Changes after ``since`` (at or before ``until``) matching ``where``, a filter
        already narrowed to the scope."""
        page = await self.store.changes(self.name, since, where, limit, until)
        return ChangePage(
            [to_change(d, self.scope) for d in page.docs], page.checkpoint, page.has_more
        )

    def watch(self, since: str) -> AsyncIterator[LogPage]:
        """The store's pages of this model's log after ``since``, live, forever."""
        return self.store.watch(self.name, since)
