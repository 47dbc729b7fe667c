"""The ASGI application: GraphQL over HTTP and WebSocket on /graphql, /health, the demo
app at /demo/, the operators' endpoints (/, /ready, /metrics), and the limits and CORS
rules in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from . import endpoints, web
from .api.http import GraphQLApp
from .demo import demo_registry
from .metrics import Metrics
from .middleware import middleware
from .models import Registry
from .replication import Repository
from .settings import Settings
from .stores import Store
from .tasks import stop

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    registry: Registry | None = None,
    *,
    store: Store | None = None,
) -> Starlette:
    """The server for ``settings`` (a fresh ``Settings.from_env()`` by default), on
    ``store`` when given (else the one ``settings`` name)."""
    settings = settings or Settings.from_env()
    registry = registry or demo_registry()
    repository = (
        Repository(store, registry, settings)
        if store is not None
        else Repository.from_settings(settings, registry)
    )
    graphql = GraphQLApp(repository)
    metrics = Metrics(repository)

    async def health(request: Request) -> Response:
        # Liveness: the process answers. Whether the store does is /ready's question (a
        # probe that restarts servers must not restart them all while a database is down).
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await repository.open()
        log.info("Store open: %s", settings.store_display)
        syncing = (
            asyncio.create_task(metrics.sync_feeds_forever()) if metrics.multiprocess else None
        )
        try:
            yield
        finally:
            if syncing is not None:
                await stop(syncing)
            await repository.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *web.routes(),
            *endpoints.routes(repository, metrics),
        ],
        lifespan=lifespan,
        middleware=middleware(settings),
    )
    app.state.repository = repository
    app.state.metrics = metrics
    return app
