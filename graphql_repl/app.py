"""The ASGI application: GraphQL over HTTP and WebSocket on /graphql, and /health."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from . import web
from .api import Context, build_schema
from .api.fanout import SharedEvents
from .auth import Principal, authenticate
from .demo import demo_registry
from .models import Registry
from .replication import Repository
from .settings import Settings

log = logging.getLogger(__name__)


def bearer(value: Any) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` value."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, repository: Repository, **kwargs: Any) -> None:
        super().__init__(build_schema(repository.registry), **kwargs)
        self.repository = repository
        self.events = SharedEvents()

    async def render_graphql_ide(self, request: Request) -> Response:
        page = web.graphiql_html()
        return HTMLResponse(page) if page is not None else await super().render_graphql_ide(request)

    async def _principal(self, token: str | None) -> Principal | None:
        return None if token is None else await authenticate(self.repository.store, token)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        token = bearer(request.headers.get("authorization"))
        return Context(self.repository, self.events, await self._principal(token))

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        token = bearer(params.get("Authorization") or params.get("authorization"))
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        if token is not None:
            principal = await self._principal(token)
            if principal is None:
                raise ConnectionRejectionError(
                    {"message": "Unknown token", "code": "UNAUTHENTICATED"}
                )
            context.principal = principal


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Starlette:
    """The server for ``settings`` (a fresh ``Settings.from_env()`` by default)."""
    settings = settings or Settings.from_env()
    repository = Repository.from_settings(settings, registry or demo_registry())
    graphql = GraphQLApp(repository, keep_alive=True, keep_alive_interval=15)

    async def health(request: Request) -> Response:
        await repository.store.checkpoint("health")
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await repository.open()
        log.info("Store open: %s", settings.store_display)
        try:
            yield
        finally:
            await repository.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *web.routes(),
        ],
        lifespan=lifespan,
    )
    app.state.repository = repository
    return app
