"""A model on this server, as one caller sees it: the local end of replication.

``LocalModel`` is what the API, the feed and ``replicate()`` talk to (a remote server's
model, over GraphQL, is the other kind of end). It holds no rules of its own: each
operation is one step module's (``changelog``, ``diff``, ``bulk``, ``conflicts``,
``documents``), run in the caller's ``TenantScope``. Every write goes through the store's
``transact``, so a document and its change entry are one atomic step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import BadInput
from ..events import Events
from ..filters import Filter, parse_filter
from ..models import Document, Model
from ..settings import Settings
from ..stores.base import Store
from . import bulk, conflicts
from . import push as pushing
from .changelog import ChangeLog
from .clocks import HybridLogicalClock
from .diff import diff
from .documents import Documents
from .events import ConflictRecorded, ConflictResolved, Written
from .push import Pushed, PushRow
from .replicate import ChangesQuery, Endpoint
from .tenancy import TenantScope
from .types import (
    MAX_PAGE_SIZE,
    BulkUpdateResult,
    ChangeInput,
    ChangePage,
    Conflict,
    Diff,
    DocumentState,
    Resolution,
    StatePage,
    Update,
    UpdateStatus,
)
from .versions import Versioning


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")


class LocalModel(Endpoint):
    def __init__(
        self,
        model: Model,
        store: Store,
        clock: HybridLogicalClock,
        settings: Settings,
        tenant: str | None = None,
        events: Events | None = None,
    ) -> None:
        self.model = model
        self.events = events or Events()
        self.store = store
        self.settings = settings
        self.scope = TenantScope(model, tenant)
        self.versioning = Versioning(
            model, clock, self.scope, settings.history_limit, settings.merge_base_limit
        )
        self.log = ChangeLog(store, self.scope)
        self.documents = Documents(store, self.versioning)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def tenant(self) -> str | None:
        return self.scope.tenant

    def filter(self, where: Any) -> Filter | None:
        """A client's ``where``, parsed and narrowed to this caller's scope."""
        return self.scope.narrow(parse_filter(self.model, where))

    # -- the change log (the Endpoint operations with bulk_update) ---------------------------

    async def checkpoint(self) -> str:
        return await self.log.checkpoint()

    async def read_changes(self, query: ChangesQuery) -> ChangePage:
        check_limit(query.limit)
        return await self.log.page(query.since, self.filter(query.where), query.limit, query.until)

    async def diff(self, since: str | None, changes: Sequence[ChangeInput]) -> Diff:
        return await diff(self.store, self.scope, since, changes)

    async def bulk_update(self, updates: Sequence[Update]) -> BulkUpdateResult:
        """Apply each update if this side is at its ``prev`` (or already has it); otherwise
        merge per field, or record a conflict. An invalid update is rejected alone."""
        chunk = self.settings.replication_chunk_size
        settled = await bulk.bulk_update(self.store, self.versioning, updates, chunk)
        counts = dict.fromkeys((s.value for s in UpdateStatus), 0)
        for result in settled.results:
            counts[result.status.value] += 1
        self.events.emit(Written(self.name, "bulkUpdate", self.tenant, counts))
        for c in settled.conflicts:
            self.events.emit(ConflictRecorded(self.name, c.model_id, self.tenant, tuple(c.fields)))
        return BulkUpdateResult(settled.results, settled.conflicts, await self.checkpoint())

    # -- web-app sync (RxDB's replication protocol) ------------------------------------------

    async def pull(self, since: str | None, limit: int) -> StatePage:
        """The documents changed after ``since`` (from the start when None), each once in
        its latest state, in log order, at most ``limit``."""
        check_limit(limit)
        return await self.log.states(since, self.filter(None), limit)

    async def push(self, rows: Sequence[PushRow]) -> Pushed:
        """Settle each row against the master state (see ``push``); the master states of
        the rows not written as sent."""
        chunk = self.settings.replication_chunk_size
        pushed = await pushing.push(self.store, self.versioning, rows, chunk)
        # A push records no conflict: a row kept for its pusher to settle counts as one.
        counts = {
            UpdateStatus.APPLIED.value: pushed.written,
            UpdateStatus.MERGED.value: pushed.merged,
            UpdateStatus.CONFLICT.value: pushed.kept,
            UpdateStatus.REJECTED.value: pushed.refused,
        }
        self.events.emit(Written(self.name, "push", self.tenant, counts))
        return pushed

    # -- conflicts ---------------------------------------------------------------------------

    async def conflicts(self, where: Any = None) -> list[Conflict]:
        return await conflicts.list_conflicts(self.store, self.scope, self.filter(where))

    async def resolve_conflict(
        self, model_id: str, using: Resolution, data: Any = None
    ) -> Document | None:
        """Settle a recorded conflict (see ``conflicts.resolve_conflict``)."""
        result = await conflicts.resolve_conflict(
            self.store, self.versioning, model_id, using, data
        )
        self.events.emit(ConflictResolved(self.name, model_id, self.tenant, using.value))
        return result

    # -- typed reads and writes (web apps) ---------------------------------------------------

    async def get(self, model_id: str) -> Document | None:
        state = await self.documents.get(model_id)
        return None if state is None else state.data

    async def find(self, where: Any = None, limit: int = 100, offset: int = 0) -> list[Document]:
        return [state.data for state in await self.find_states(where, limit, offset)]

    async def find_states(
        self, where: Any = None, limit: int = 100, offset: int = 0
    ) -> list[DocumentState]:
        """``find``, with each document's rev."""
        check_limit(limit)
        if offset < 0:
            raise BadInput("offset must not be negative")
        return await self.documents.find(self.filter(where), limit, offset)

    async def create(self, data: Any) -> Document:
        return (await self.documents.create(data)).data

    async def update(self, model_id: str, patch: Any) -> Document:
        return (await self.documents.update(model_id, patch)).data

    async def delete(self, model_id: str) -> bool:
        return await self.documents.delete(model_id)
