"""``graphql-repl serve``: the app under uvicorn; a stop signal is a clean exit."""

from __future__ import annotations

import logging
from types import FrameType
from typing import TYPE_CHECKING

import click
import uvicorn

from .. import __version__
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
    _Server(_uvicorn_config(app, settings, log_level)).run()


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
    """uvicorn's server, for which a stop signal is a clean exit (status 0: not re-raised as
    the signal); a second signal stops at once.

    On a stop uvicorn closes every WebSocket with 1012 (service restart): subscribers
    reconnect and resume from their last checkpoint (graphql-ws clients, and RxDB, Apollo
    Client and urql through them, retry on that code). Subscriptions are not completed
    first: a completed subscription has ended for good, and those clients do not
    subscribe again."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
