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
from .exits import EXIT_LISTEN, EXIT_OK, EXIT_STORE, EXIT_UNAVAILABLE, CommandWithExitCodes
from .failures import debug_wanted
from .options import log_format_option, log_level_option, registry_of, settings_of, store_option
from .startup import check_file, listening_socket, new_store, open_store, shown
from .workers import Supervisor, WorkerSpec

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..models import Registry
    from ..stores import Store

log = logging.getLogger(__name__)


@click.command(
    cls=CommandWithExitCodes,
    exit_codes=(EXIT_UNAVAILABLE, EXIT_STORE, EXIT_LISTEN),
)
@store_option
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option(
    "--models",
    help="Module declaring the models to serve: a module name (the current directory is "
    "searched too) or a .py file. Default: the demo models.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser apps from ORIGIN (e.g. https://app.example) to call the API; "
    "repeat for several. Default: none (also GRAPHQL_REPL_CORS_ORIGINS, comma-separated).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Server processes sharing the port and the store (default 1; also "
    "GRAPHQL_REPL_WORKERS). Each new connection goes to one of them.",
)
@log_level_option
@log_format_option
@click.pass_context
def serve(
    ctx: click.Context,
    store: str | None,
    host: str | None,
    port: int | None,
    models: str | None,
    cors_origins: tuple[str, ...],
    workers: int | None,
    log_level: str,
    log_format: str,
) -> None:
    """Serve GraphQL on /graphql (GraphiQL in a browser), WebSocket subscriptions, /health,
    /ready, /metrics, and the demo app on /demo/. Limits and other settings:
    GRAPHQL_REPL_* variables (see the README)."""
    from ..logs import configure_logging

    configure_logging(log_level, log_format)
    settings = settings_of(
        store=store,
        host=host,
        port=port,
        models=models,
        cors_origins=cors_origins or None,
        workers=workers,
    )
    registry = registry_of(settings.models)
    store_object = new_store(settings)
    check_file(settings.store, create=True)
    spec = WorkerSpec(settings, log_level, log_format, debug_wanted(ctx))
    sock = listening_socket(settings.host, settings.port)
    try:
        if settings.workers == 1:
            run_server(settings, registry, store_object, sock, spec, banner=True)
            return
        # The store is opened once here (it creates its schema; a failure is said once),
        # then by each worker.
        asyncio.run(_check_store(store_object, settings, spec.debug))
        _banner(settings, sock, log_format)
        code = Supervisor(spec, sock, settings.workers).run()
    finally:
        sock.close()
    if code != EXIT_OK:
        ctx.exit(code)


async def _check_store(store: Store, settings: Settings, debug: bool) -> None:
    await open_store(store, settings, debug=debug)
    await store.close()


def run_server(
    settings: Settings,
    registry: Registry,
    store: Store,
    sock: socket.socket,
    spec: WorkerSpec,
    *,
    banner: bool,
) -> None:
    """Serve ``registry`` on ``store`` and ``sock`` until a stop signal (in this process:
    the only server, or one worker)."""
    from ..app import create_app

    app = create_app(settings, registry, store=store)
    config = _uvicorn_config(app, settings, spec.log_level)
    server = _Server(config, app.state.repository)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(server.start(sock, settings, spec.log_format if banner else None, spec.debug))


def _banner(settings: Settings, sock: socket.socket, log_format: str) -> None:
    """Where the server is, once it is sure to start: the store, the URLs, a token hint
    (in a JSON log, one line of it, so that every line of stderr is JSON)."""
    port = sock.getsockname()[1]
    base = f"http://{settings.host}:{port}"
    store = shown(settings.store)
    workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
    lines = {
        "serving": f"graphql-repl {__version__} serving {store}{workers}",
        "graphiql": f"GraphiQL: {base}/graphql",
        "demo": f"Demo app: {base}/demo/",
        "hint": f"Get a token: graphql-repl token create --role admin --store {store}",
    }
    if log_format == "json":
        fields = {
            "store": store,
            "graphql": f"{base}/graphql",
            "demo": f"{base}/demo/",
            "workers": settings.workers,
        }
        log.info(lines["serving"], extra={"event": "serve.start", **fields})
        return
    for line in lines.values():
        click.echo(line, err=True)


def _uvicorn_config(app: Starlette, settings: Settings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # Our logging is configured already: uvicorn logs through it, on stderr, in
        # --log-format. One line per GraphQL operation says more than an access line.
        log_config=None,
        access_log=log_level == "debug",
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
    """On a stop signal, ends the change feeds first, then lets uvicorn shut down: it closes
    each WebSocket with 1012 (Service Restart), which graphql-ws clients retry, resubscribing
    from their last checkpoint. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, repository: Repository) -> None:
        super().__init__(config)
        self.repository = repository
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def start(
        self, sock: socket.socket, settings: Settings, banner_format: str | None, debug: bool
    ) -> None:
        """Open the store (a failure ends here, before anything is printed), say where the
        server is (in ``banner_format``; None: a worker, whose supervisor said it), and
        serve on ``sock`` until stopped."""
        await open_store(self.repository, settings, debug=debug)
        try:
            if banner_format is not None:
                _banner(settings, sock, banner_format)
            await self.serve([sock])
        finally:
            await self.repository.close()

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
        await asyncio.sleep(0.2)  # let the feeds' last events reach the sockets
        # A stop we handled is a clean exit (status 0): not re-raised as the signal.
        self.should_exit = True
