"""The models of one server over one store: what the API layer and the CLI talk to.

Every caller goes through a ``View``: ``repository.view(tenant)`` is the repository as a
caller bound to ``tenant`` sees it (``view()``: every tenant), and its models, feeds and
replications all run in that caller's tenant scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from ..events import Events
from ..models import Registry
from ..settings import Settings
from ..stores import Store, create_store
from ..stores.base import StoredDoc
from ..stores.tokens import TokenStore
from .changelog import state_of, to_change
from .clocks import HybridLogicalClock
from .feed import ChangeHub, Check, Feed, FeedStats, Tap
from .local import LocalModel
from .replicate import replicate
from .tenancy import TenantScope
from .types import Change, CheckpointPair, ReplicationResult, StatePage


class Repository:
    """``clock`` stamps this server's writes (a fresh hybrid logical clock by default)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        settings: Settings | None = None,
        *,
        clock: HybridLogicalClock | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings or Settings()
        self.clock = clock or HybridLogicalClock()
        #: What the repository's models tell operators (logged; the metrics listen).
        self.events = Events()
        self._models: dict[str, LocalModel] = {}
        self._hubs: dict[str, ChangeHub] = {}
        self._open = False

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: Registry, *, clock: HybridLogicalClock | None = None
    ) -> Repository:
        store = create_store(settings.store, connect_timeout=settings.connect_timeout)
        return cls(store, registry, settings, clock=clock)

    async def open(self) -> Repository:
        """Open the store (once: opening an open repository does nothing, so that a server
        can open it before it serves, and the app's lifespan after)."""
        if not self._open:
            await self.store.open()
            self._open = True
        return self

    @property
    def tokens(self) -> TokenStore:
        """The store's access tokens."""
        return self.store.tokens

    def stop_feeds(self) -> None:
        """End every feed after what it has pending (a server that is stopping calls this
        before it closes its connections)."""
        for hub in self._hubs.values():
            hub.stop()

    async def close(self) -> None:
        for hub in self._hubs.values():
            await hub.close()
        self._hubs.clear()
        self._open = False
        await self.store.close()

    async def __aenter__(self) -> Repository:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def view(self, tenant: str | None = None) -> View:
        """The repository as a caller bound to ``tenant`` sees it (None: every tenant)."""
        return View(self, tenant)

    def model(self, name: str) -> LocalModel:
        """The named model as a caller of no tenant sees it; raises ``UnknownModel``
        (BAD_USER_INPUT) for an unknown name."""
        local = self._models.get(name)
        if local is None:
            model = self.registry.get(name)
            local = self._models[name] = LocalModel(
                model, self.store, self.clock, self.settings, events=self.events
            )
        return local

    def hub(self, name: str) -> ChangeHub:
        """The one watcher of model ``name``'s log, serving every subscriber."""
        hub = self._hubs.get(name)
        if hub is None:
            log = self.model(name).log
            hub = self._hubs[name] = ChangeHub(log, self.settings.feed_max_pending, self.events)
        return hub

    def feeds(self) -> dict[str, FeedStats]:
        """What each model's change feed has done so far (models with a feed running)."""
        return {name: hub.stats for name, hub in self._hubs.items()}


class View:
    """A repository in one caller's tenant scope."""

    def __init__(self, repository: Repository, tenant: str | None) -> None:
        self.repository = repository
        self.tenant = tenant

    def model(self, name: str) -> LocalModel:
        """The named model in this view's scope; ``UnknownModel`` for an unknown name."""
        repository = self.repository
        if self.tenant is None:
            return repository.model(name)
        model = repository.registry.get(name)
        return LocalModel(
            model,
            repository.store,
            repository.clock,
            repository.settings,
            self.tenant,
            events=repository.events,
        )

    def feed(
        self,
        name: str,
        since: str | None,
        where: Any,
        check: Check | None,
        check_interval: float,
    ) -> Feed[Change]:
        """The live change feed of model ``name``: changes after ``since``, then live ones.
        ``check`` is awaited every ``check_interval`` seconds; a ReplError it raises ends
        the feed."""
        local = self.model(name)
        tap = Tap()
        batches = self.repository.hub(name).subscribe(
            since, local.filter(where), check, check_interval, tap
        )
        scope = local.scope

        def changes_of(docs: Sequence[StoredDoc]) -> Iterator[tuple[int, Change]]:
            for doc in docs:
                yield 1, to_change(doc, scope)

        return Feed(_changes(batches, scope), tap, changes_of)

    def stream(
        self, name: str, since: str | None, check: Check | None, check_interval: float
    ) -> Feed[StatePage]:
        """Model ``name``'s documents as they change, in batches: first those changed after
        ``since`` (none when it is None), then live ones; as ``feed``, for web-app sync."""
        local = self.model(name)
        tap = Tap()
        batches = self.repository.hub(name).subscribe(
            since, local.filter(None), check, check_interval, tap
        )
        scope = local.scope

        def pages_of(docs: Sequence[StoredDoc]) -> Iterator[tuple[int, StatePage]]:
            yield len(docs), _state_page(docs, scope)

        return Feed(_state_pages(batches, scope), tap, pages_of)

    async def replicate(
        self,
        source: str,
        target: str,
        since: CheckpointPair | None = None,
        where: Any = None,
    ) -> ReplicationResult:
        """Replicate model ``source`` into model ``target`` on this server, in this view."""
        settings = self.repository.settings
        return await replicate(
            self.model(source),
            self.model(target),
            since,
            where,
            chunk_size=settings.replication_chunk_size,
            max_attempts=settings.replication_max_attempts,
        )


async def _changes(
    batches: AsyncIterator[list[StoredDoc]], scope: TenantScope
) -> AsyncIterator[Change]:
    async for batch in batches:
        for doc in batch:
            yield to_change(doc, scope)


async def _state_pages(
    batches: AsyncIterator[list[StoredDoc]], scope: TenantScope
) -> AsyncIterator[StatePage]:
    async for batch in batches:
        yield _state_page(batch, scope)


def _state_page(batch: Sequence[StoredDoc], scope: TenantScope) -> StatePage:
    checkpoint = batch[-1].checkpoint
    assert checkpoint is not None  # records read from the log have their positions
    return StatePage([state_of(doc, scope) for doc in batch], checkpoint)
