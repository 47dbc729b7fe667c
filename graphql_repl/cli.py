"""The ``graphql-repl`` command line (CONTRACT §7)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson
import uvicorn

from . import __version__
from .demo import demo_registry
from .errors import ReplError
from .models import Registry
from .replication import Repository
from .settings import DEFAULT_STORE, Settings

if TYPE_CHECKING:
    from .remote import Summary
    from .stores import Store

T = TypeVar("T")

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
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser apps from ORIGIN (e.g. https://app.example) to call the API; "
    "repeat for several. Default: none (also GRAPHQL_REPL_CORS_ORIGINS, comma-separated).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
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
    from .app import create_app

    settings = _settings(
        store=store, host=host, port=port, models=models, cors_origins=cors_origins or None
    )
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


def _with_store(store: str | None, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` on the store (opened, then closed), errors as one line."""
    from .stores import create_store

    settings = _settings(store=store)

    async def run() -> T:
        backend = create_store(settings.store)
        await backend.open()
        try:
            return await work(backend)
        finally:
            await backend.close()

    try:
        return asyncio.run(run())
    except ReplError as exc:
        raise click.ClickException(exc.message) from None


_DURATION = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _expiry(value: str | None) -> float | None:
    """``--expires``: a duration from now (``90m``, ``12h``, ``30d``, ``1w``, or combined:
    ``1d12h``) or an ISO 8601 date and time (UTC unless it gives an offset)."""
    if value is None:
        return None
    text = value.strip()
    if _DURATION.sub("", text).strip() == "" and _DURATION.search(text):
        seconds = sum(int(n) * _SECONDS[unit.lower()] for n, unit in _DURATION.findall(text))
        return time.time() + seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "expected a duration such as 30d, 12h or 90m, or an ISO 8601 time "
            "such as 2027-01-31T12:00:00Z",
            param_hint="--expires",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@token.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["reader", "writer", "replicator", "admin"])
)
@click.option("--tenant", help="Bind the token to one tenant (tenantId).")
@click.option(
    "--expires",
    metavar="WHEN",
    help="Expiry: a duration from now (90m, 12h, 30d, 1w) or an ISO 8601 time. "
    "Default: never (until revoked).",
)
@click.option("--store", help=STORE_HELP)
def token_create(role: str, tenant: str | None, expires: str | None, store: str | None) -> None:
    """Create a token and print it (alone, on stdout). Only its hash is stored."""
    from .auth import create_token

    expires_at = _expiry(expires)
    click.echo(_with_store(store, lambda s: create_token(s, role, tenant, expires_at)))


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--store", help=STORE_HELP)
def token_list(as_json: bool, store: str | None) -> None:
    """List tokens: id, role, tenant, times and status. Secrets are never shown (only
    their hashes are stored)."""
    now = time.time()
    records = _with_store(store, lambda s: s.list_tokens())
    rows = []
    for record in records:
        if record.revoked_at is not None:
            status = "revoked"
        elif not record.active(now):
            status = "expired"
        else:
            status = "active"
        rows.append(
            {
                "id": record.token_id,
                "role": record.role,
                "tenant": record.tenant,
                "created": _when(record.created_at),
                "expires": _when(record.expires_at) if record.expires_at else None,
                "revoked": _when(record.revoked_at) if record.revoked_at else None,
                "status": status,
            }
        )
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row).decode())
        return
    columns = ("id", "role", "tenant", "created", "expires", "status")
    table = [[str(row[c] or "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    for line in [[c.upper() for c in columns], *table]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--store", help=STORE_HELP)
def token_revoke(token_id: str, store: str | None) -> None:
    """Revoke a token by its id (as `token list` shows it; the whole token works too).
    It stops working at once, and subscriptions opened with it end within seconds."""
    from .auth import token_id_of

    token_id = token_id_of(token_id)
    if not _with_store(store, lambda s: s.revoke_token(token_id, time.time())):
        raise click.ClickException(f"No token with id {token_id!r}")
    click.echo(f"Revoked token {token_id}", err=True)


# Exit codes of ``replicate`` (also in its --help and the README).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3
EXIT_REFUSED = 4
EXIT_UNAVAILABLE = 5
EXIT_REJECTED = 6
EXIT_INTERRUPTED = 130

REPLICATE_HELP = f"""Copy model NAME from the server at --source to the one at --target.

\b
URLs are server base URLs (http://127.0.0.1:8000) or their /graphql endpoints. Changes are
read in pages of --batch-size and sent with bulkUpdate (per-field clocks and ancestry
included), retrying transient failures with exponential backoff and jitter. After each page
the target has applied, the checkpoint pair is stored in --state (replaced atomically), so
an interrupted run loses nothing and the next run goes on from there. A source that cannot
continue from the stored checkpoint is copied again from the start (a full copy). With
--live, after catching up it follows the source's changeFeed and pushes changes as they
come, until SIGINT or SIGTERM (it stops after the batch being pushed).

\b
Tokens need the replicator (or admin) role on their server; they can also come from
GRAPHQL_REPL_TOKEN, GRAPHQL_REPL_SOURCE_TOKEN and GRAPHQL_REPL_TARGET_TOKEN.

\b
Exit codes:
  {EXIT_OK}    done (with --live: stopped by SIGINT/SIGTERM)
  {EXIT_ERROR}    unexpected error
  {EXIT_USAGE}    bad arguments, or a state file that cannot be used
  {EXIT_CONFLICTS}    done, but conflicts remain unresolved on the target (ids listed)
  {EXIT_REFUSED}    refused: wrong token, no permission, unknown model, bad input
  {EXIT_UNAVAILABLE}    a server stayed unreachable or failing: gave up after --retries
  {EXIT_REJECTED}    done, but the target rejected some updates (ids listed)
  {EXIT_INTERRUPTED}  a one-shot run stopped by SIGINT/SIGTERM before it finished
"""


@main.command(help=REPLICATE_HELP, short_help="Replicate a model from one server to another.")
@click.option("--source", required=True, metavar="URL", help="The server to copy from.")
@click.option("--target", required=True, metavar="URL", help="The server to copy to.")
@click.option("--model", required=True, metavar="NAME", help="The model to copy.")
@click.option("--target-model", metavar="NAME", help="The model on the target (default: NAME).")
@click.option("--token", envvar="GRAPHQL_REPL_TOKEN", help="Token for both servers.")
@click.option("--source-token", envvar="GRAPHQL_REPL_SOURCE_TOKEN", help="Token for the source.")
@click.option("--target-token", envvar="GRAPHQL_REPL_TARGET_TOKEN", help="Token for the target.")
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File keeping the checkpoints, so the next run is incremental.",
)
@click.option("--live", is_flag=True, help="Keep following the source's changes.")
@click.option(
    "--on-conflict",
    type=click.Choice(["report", "source", "target"]),
    default="report",
    show_default=True,
    help="Leave conflicts recorded on the target, or resolve them there for one side.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 5000),
    default=1000,
    show_default=True,
    help="Changes read per page (and per live batch).",
)
@click.option(
    "--push-size",
    type=click.IntRange(1, 5000),
    help="Updates per bulkUpdate request (default: --batch-size).",
)
@click.option("--where", metavar="JSON", help="Copy only documents matching this filter.")
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=8,
    show_default=True,
    help="Attempts per request before giving up (0: never give up).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.pass_context
def replicate(
    ctx: click.Context,
    source: str,
    target: str,
    model: str,
    target_model: str | None,
    token: str | None,
    source_token: str | None,
    target_token: str | None,
    state: Path | None,
    live: bool,
    on_conflict: str,
    batch_size: int,
    push_size: int | None,
    where: str | None,
    retries: int,
    timeout: float,
    as_json: bool,
    log_level: str,
) -> None:
    import orjson

    from .errors import PermanentError, StateError, TransientError
    from .remote import JobOptions, RemoteModel, ReplicationJob, Retry, StateFile, graphql_url
    from .replication import Resolution

    RESOLUTIONS = {"report": None, "source": Resolution.SOURCE, "target": Resolution.TARGET}

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    for noisy in ("httpx", "httpcore", "gql", "websockets"):  # a line per request at INFO
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    target_model = target_model or model
    try:
        source_url, target_url = graphql_url(source), graphql_url(target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if (source_url, model) == (target_url, target_model):
        raise click.UsageError("--source and --target name the same model on the same server")
    try:
        where_filter = None if where is None else orjson.loads(where)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--where") from None
    retry = Retry(attempts=retries)

    async def run() -> Summary:
        async with (
            RemoteModel(
                source_url, model, source_token or token, timeout=timeout, retry=retry
            ) as remote_source,
            RemoteModel(
                target_url,
                target_model,
                target_token or token,
                timeout=timeout,
                retry=retry,
                push_size=push_size or batch_size,
                full_results=False,
            ) as remote_target,
        ):
            with StateFile(state) if state is not None else contextlib.nullcontext() as file:
                options = JobOptions(
                    where=where_filter,
                    batch_size=batch_size,
                    on_conflict=RESOLUTIONS[on_conflict],
                    live=live,
                    retry=retry,
                    interactive=sys.stderr.isatty(),
                )
                replicator = ReplicationJob(remote_source, remote_target, options, file)
                task = asyncio.current_task()
                assert task is not None
                loop = asyncio.get_running_loop()

                signals = 0

                def stop() -> None:
                    # The first signal stops after the batch being pushed; a second, at once.
                    nonlocal signals
                    signals += 1
                    if replicator.request_stop() or signals > 1:
                        task.cancel()

                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop)
                try:
                    return await replicator.run()
                finally:
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        loop.remove_signal_handler(sig)

    try:
        summary = asyncio.run(run())
    except StateError as exc:
        _fail(ctx, EXIT_USAGE, str(exc))
    except PermanentError as exc:
        _fail(ctx, EXIT_REFUSED, exc.message)
    except TransientError as exc:
        attempts = f"; gave up after {exc.attempts} attempts" if exc.attempts > 1 else ""
        _fail(ctx, EXIT_UNAVAILABLE, f"{exc.message}{attempts}")
    except KeyboardInterrupt:  # before the signal handlers were in place
        _fail(ctx, EXIT_INTERRUPTED, "interrupted")
    except Exception as exc:
        logging.getLogger(__name__).debug("replicate failed", exc_info=True)
        _fail(ctx, EXIT_ERROR, f"unexpected error: {type(exc).__name__}: {exc}")
    ctx.exit(_report(summary, as_json, live))


def _fail(ctx: click.Context, code: int, message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    ctx.exit(code)


def _report(summary: Summary, as_json: bool, live: bool) -> int:
    """Print the summary on stdout; return the exit code it calls for."""
    import orjson

    if summary.conflicts:
        code = EXIT_CONFLICTS
    elif summary.rejected:
        code = EXIT_REJECTED
    elif summary.stopped and not live:
        code = EXIT_INTERRUPTED
    else:
        code = EXIT_OK
    if as_json:
        click.echo(orjson.dumps({**summary.as_json(), "exitCode": code}).decode())
        return code
    rate = summary.read / summary.seconds if summary.seconds > 0 else 0.0
    label = summary.model
    if summary.target_model != summary.model:
        label += f" -> {summary.target_model}"
    click.echo(
        f"{label}: {summary.read:,} changes in {summary.seconds:.1f} s ({rate:,.0f} docs/s): "
        f"{summary.counts_text()}"
    )
    if summary.resynced:
        click.echo("The source could not continue from the stored checkpoint: copied it all.")
    if summary.resolved:
        click.echo(f"{summary.resolved:,} conflicts resolved on the target.")
    if summary.conflicts:
        click.echo(
            f"{len(summary.conflicts):,} conflicts left unresolved on the target: "
            f"{_ids(summary.conflicts)} (resolve them with resolveConflict, or run again "
            "with --on-conflict source|target)"
        )
    if summary.rejected:
        click.echo(
            f"{len(summary.rejected):,} updates rejected by the target: {_ids(summary.rejected)}"
        )
    if summary.stopped:
        click.echo("Stopped; the checkpoints of everything applied are stored.")
    return code


def _ids(ids: Any, limit: int = 50) -> str:
    listed = list(ids)
    text = ", ".join(listed[:limit])
    return text + (f" and {len(listed) - limit:,} more" if len(listed) > limit else "")


@main.command("export-schema")
@click.option("--models", help="Module declaring the models (default: the demo models).")
def export_schema(models: str | None) -> None:
    """Print the GraphQL SDL."""
    from .api import build_schema

    sys.stdout.write(build_schema(_registry(models)).as_str() + "\n")
