"""``graphql-repl serve``: the app under uvicorn, with subscriptions drained on a stop."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType
from typing import TYPE_CHECKING

import click
import uvicorn

from .. import __version__
from ..replication import Repository
from ..settings import Settings
from .options import log_level_option, registry_of, settings_of, store_option

if TYPE_CHECKING:
    from starlette.applications import Starlette


@click.command()
@store_option
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--models", help="Module declaring the models to serve (default: the demo models).")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser apps from ORIGIN (e.g. https://app.example) to call the API; "
    "repeat for several. Default: none (also GRAPHQL_REPL_CORS_ORIGINS, comma-separated).",
)
@log_level_option
def serve(
    store: str | None,
    host: str | None,
    port: int | None,
    models: str | None,
    cors_origins: tuple[str, ...],
    log_level: str,
) -> None:
    """Serve GraphQL on /graphql (GraphiQL in a browser), WebSocket subscriptions, /health,
    and the demo app on /demo/. Limits and other settings: GRAPHQL_REPL_* variables
    (see the README)."""
    from ..app import create_app

    settings = settings_of(
        store=store, host=host, port=port, models=models, cors_origins=cors_origins or None
    )
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings, registry_of(settings.models))
    url = f"http://{settings.host}:{settings.port}/graphql"
    click.echo(f"graphql-repl {__version__} serving {settings.store_display}", err=True)
    click.echo(f"GraphiQL: {url}", err=True)
    click.echo(
        f"Get a token: graphql-repl token create --role admin --store {settings.store_display}",
        err=True,
    )
    _Server(_uvicorn_config(app, settings, log_level), app.state.repository).run()


def _uvicorn_config(app: Starlette, settings: Settings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        # Keep idle HTTP connections longer than clients keep them in their pools
        # (httpx: 5 s, uvicorn's own default too): with equal timeouts a client can
        # send on a connection the server is closing, and lose the request.
        timeout_keep_alive=30,
        # Per-message compression costs more CPU than the fan-out of small JSON events
        # saves in bandwidth (about a third of the feed's server time when measured).
        ws_per_message_deflate=False,
        # A larger message closes the connection with 1009 (message too big).
        ws_max_size=settings.max_body_bytes,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
    )


class _Server(uvicorn.Server):
    """On a stop signal, completes changeFeed subscriptions first (so subscribers see a
    normal completion), then lets uvicorn shut down. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, repository: Repository) -> None:
        super().__init__(config)
        self.repository = repository
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._loop is None:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._loop.call_soon_threadsafe(
            lambda: self._loop and self._loop.create_task(self._drain())
        )

    async def _drain(self) -> None:
        self.repository.stop_feeds()
        await asyncio.sleep(0.2)  # let the completions reach the sockets
        # A stop we handled is a clean exit (status 0): not re-raised as the signal.
        self.should_exit = True
