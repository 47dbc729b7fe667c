"""The ``graphql-repl`` command line (CONTRACT §7)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from types import FrameType
from typing import Any

import click
import uvicorn

from . import __version__
from .demo import demo_registry
from .errors import ReplError
from .models import Registry
from .replication import Repository
from .settings import DEFAULT_STORE, Settings

STORE_HELP = f"Store URL (default {DEFAULT_STORE}; also GRAPHQL_REPL_STORE)."


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _registry(models: str | None) -> Registry:
    if models is None:
        return demo_registry()
    try:
        return Registry.from_module(models)
    except (ImportError, ValueError) as exc:
        raise click.UsageError(f"--models {models}: {exc}") from None


@click.group()
@click.version_option(__version__, prog_name="graphql-repl")
def main() -> None:
    """graphql_repl: keep copies of data in sync through a GraphQL API."""


@main.command()
@click.option("--store", help=STORE_HELP)
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--models", help="Module declaring the models to serve (default: the demo models).")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(
    store: str | None, host: str | None, port: int | None, models: str | None, log_level: str
) -> None:
    """Serve GraphQL on /graphql (GraphiQL in a browser), WebSocket subscriptions, /health."""
    from .app import create_app

    settings = _settings(store=store, host=host, port=port, models=models)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings, _registry(settings.models))
    url = f"http://{settings.host}:{settings.port}/graphql"
    click.echo(f"graphql-repl {__version__} serving {settings.store_display}", err=True)
    click.echo(f"GraphiQL: {url}", err=True)
    click.echo(
        f"Get a token: graphql-repl token create --role admin --store {settings.store_display}",
        err=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        # Per-message compression costs more CPU than the fan-out of small JSON events
        # saves in bandwidth (about a third of the feed's server time when measured).
        ws_per_message_deflate=False,
    )
    _Server(config, app.state.repository).run()


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


@main.group()
def token() -> None:
    """Manage access tokens."""


@token.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["reader", "writer", "replicator", "admin"])
)
@click.option("--tenant", help="Bind the token to one tenant (tenantId).")
@click.option("--store", help=STORE_HELP)
def token_create(role: str, tenant: str | None, store: str | None) -> None:
    """Create a token and print it (alone, on stdout). Only its hash is stored."""
    from .auth import create_token
    from .stores import create_store

    settings = _settings(store=store)

    async def run() -> str:
        backend = create_store(settings.store)
        await backend.open()
        try:
            return await create_token(backend, role, tenant)
        finally:
            await backend.close()

    try:
        click.echo(asyncio.run(run()))
    except ReplError as exc:
        raise click.ClickException(exc.message) from None


@main.command("export-schema")
@click.option("--models", help="Module declaring the models (default: the demo models).")
def export_schema(models: str | None) -> None:
    """Print the GraphQL SDL."""
    from .api import build_schema

    sys.stdout.write(build_schema(_registry(models)).as_str() + "\n")
