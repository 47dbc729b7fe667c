"""The models of one server over one store: what the API layer and the CLI talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from ..models import Registry
from ..settings import Settings
from ..stores import Store, create_store
from .clocks import HybridLogicalClock
from .feed import ChangeHub, Check
from .local import LocalModel
from .replicate import replicate
from .types import Change, CheckpointPair, ReplicationResult


class Repository:
    def __init__(self, store: Store, registry: Registry, settings: Settings | None = None) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings or Settings()
        self.clock = HybridLogicalClock()
        self._models: dict[str, LocalModel] = {}
        self._hubs: dict[str, ChangeHub] = {}

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry) -> Repository:
        return cls(create_store(settings.store), registry, settings)

    async def open(self) -> Repository:
        await self.store.open()
        return self

    def stop_feeds(self) -> None:
        """Complete every changeFeed subscription (a server that is stopping calls this
        before it closes connections, so subscribers see a normal completion)."""
        for hub in self._hubs.values():
            hub.stop()

    async def close(self) -> None:
        for hub in self._hubs.values():
            await hub.close()
        self._hubs.clear()
        await self.store.close()

    async def __aenter__(self) -> Repository:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def model(self, name: str) -> LocalModel:
        """The named model; raises ``UnknownModel`` (BAD_USER_INPUT) for an unknown name."""
        local = self._models.get(name)
        if local is None:
            local = self._models[name] = LocalModel(
                self.registry.get(name), self.store, self.clock, self.settings
            )
        return local

    def feed(
        self,
        name: str,
        since: str | None = None,
        where: Any = None,
        tenant: str | None = None,
        check: Check | None = None,
        check_interval: float = 2.0,
    ) -> AsyncIterator[Change]:
        """The live change feed of model ``name``: changes after ``since``, then live ones.
        One watcher per model serves every subscriber of this repository. ``check`` is
        awaited every ``check_interval`` seconds; a ReplError it raises ends the feed."""
        local = self.model(name).scoped(tenant)
        where_filter = local.filter(where)
        hub = self._hubs.get(name)
        if hub is None:
            hub = self._hubs[name] = ChangeHub(self.model(name), self.settings.feed_max_pending)
        changes = hub.subscribe(since, where_filter, check, check_interval)
        return changes if tenant is None else _localized(local, changes)

    async def replicate(
        self,
        source: str,
        target: str,
        since: CheckpointPair | None = None,
        where: Any = None,
        tenant: str | None = None,
    ) -> ReplicationResult:
        """Replicate model ``source`` into model ``target`` on this server (as ``tenant``
        sees them, when given)."""
        return await replicate(
            self.model(source).scoped(tenant),
            self.model(target).scoped(tenant),
            since,
            where,
            chunk_size=self.settings.replication_chunk_size,
            max_attempts=self.settings.replication_max_attempts,
        )


async def _localized(local: LocalModel, changes: AsyncIterator[Change]) -> AsyncIterator[Change]:
    """The hub's changes (unscoped) as a tenant's view shows them."""
    async for change in changes:
        yield local.localize(change)
