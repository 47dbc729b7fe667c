"""The change log as a caller reads it: pages of changes since a checkpoint, and the live
pages a feed follows, each change in the caller's ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..filters import Filter
from ..stores.base import LogPage, Store, StoredDoc
from .tenancy import TenantScope
from .types import Change, ChangePage, ChangeType, DocumentState, StatePage


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


def state_of(doc: StoredDoc, scope: TenantScope) -> DocumentState:
    """A record of the log as the state a web app syncs, as ``scope`` shows it."""
    return DocumentState(scope.shown(doc.data), doc.deleted, doc.rev, doc.checkpoint)


class ChangeLog:
    """One model's change log in one scope."""

    def __init__(self, store: Store, scope: TenantScope) -> None:
        self.store = store
        self.scope = scope
        self.name = scope.model.name

    async def checkpoint(self) -> str:
        return await self.store.checkpoint(self.name)

    async def records(
        self, since: str | None, where: Filter | None, limit: int, until: str | None = None
    ) -> LogPage:
        """The log's records after ``since`` (at or before ``until``) matching ``where``, a
        filter already narrowed to the scope; in stored ids."""
        return await self.store.changes(self.name, since, where, limit, until)

    async def page(
        self, since: str | None, where: Filter | None, limit: int, until: str | None = None
    ) -> ChangePage:
        """Changes after ``since`` (at or before ``until``) matching ``where``, a filter
        already narrowed to the scope."""
        page = await self.records(since, where, limit, until)
        return ChangePage(
            [to_change(d, self.scope) for d in page.docs], page.checkpoint, page.has_more
        )

    async def states(self, since: str | None, where: Filter | None, limit: int) -> StatePage:
        """The documents changed after ``since``, each in its latest state, for a sync."""
        page = await self.records(since, where, limit)
        return StatePage([state_of(d, self.scope) for d in page.docs], page.checkpoint)

    def watch(self, since: str) -> AsyncIterator[LogPage]:
        """The store's pages of this model's log after ``since``, live, forever."""
        return self.store.watch(self.name, since)
