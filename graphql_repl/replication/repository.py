"""The models of one server over one store: what the API layer and the CLI talk to."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ..models import Registry
from ..settings import Settings
from ..stores import Store, create_store
from .clocks import HybridLogicalClock
from .local import LocalModel
from .replicate import replicate
from .types import CheckpointPair, ReplicationResult


class Repository:
    def __init__(self, store: Store, registry: Registry, settings: Settings | None = None) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings or Settings()
        self.clock = HybridLogicalClock()
        self._models: dict[str, LocalModel] = {}

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry) -> Repository:
        return cls(create_store(settings.store), registry, settings)

    async def open(self) -> Repository:
        await self.store.open()
        return self

    async def close(self) -> None:
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

    async def replicate(
        self, source: str, target: str, since: CheckpointPair | None = None, where: Any = None
    ) -> ReplicationResult:
        """Replicate model ``source`` into model ``target`` on this server."""
        return await replicate(
            self.model(source),
            self.model(target),
            since,
            where,
            chunk_size=self.settings.replication_chunk_size,
            max_attempts=self.settings.replication_max_attempts,
        )
