"""``graphql-repl replicate``: copy a model from one server to another (CONTRACT §7).

The remote side (gql, websockets, tqdm) is imported when a replication starts, not with the
command line: the other commands start faster without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from ..replication import Resolution
from ..replication.types import MAX_PAGE_SIZE
from .exits import (
    EXIT_CONFLICTS,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    CommandWithExitCodes,
)
from .options import log_format_option, log_level_option
from .report import fail, report

if TYPE_CHECKING:
    from ..remote import JobOptions, RemoteModel, ReplicationJob, Retry, Summary

DEFAULT_BATCH_SIZE = 1000
DEFAULT_IN_FLIGHT = 2
ON_CONFLICT = {"report": None, "source": Resolution.SOURCE, "target": Resolution.TARGET}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

REPLICATE_HELP = """Copy model NAME from the server at --source to the one at --target.

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
"""


@click.command(
    cls=CommandWithExitCodes,
    exit_codes=(
        EXIT_CONFLICTS,
        EXIT_REFUSED,
        EXIT_UNAVAILABLE,
        EXIT_REJECTED,
        EXIT_INTERRUPTED,
    ),
    help=REPLICATE_HELP,
    short_help="Replicate a model from one server to another.",
)
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
    type=click.Choice(list(ON_CONFLICT)),
    default="report",
    show_default=True,
    help="Leave conflicts recorded on the target, or resolve them there for one side.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Changes read per page (and per live batch).",
)
@click.option(
    "--push-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    help="Updates per bulkUpdate request (default: --batch-size).",
)
@click.option(
    "--in-flight",
    type=click.IntRange(1, 16),
    default=DEFAULT_IN_FLIGHT,
    show_default=True,
    help="Pages sent to the target at once while catching up (pages naming the same "
    "document wait for each other; checkpoints are stored in order).",
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
@log_level_option
@log_format_option
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
    in_flight: int,
    where: str | None,
    retries: int,
    timeout: float,
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Run ``graphql-repl replicate`` (its help is ``REPLICATE_HELP``) and exit with the
    code its outcome calls for."""
    from ..logs import configure_logging
    from ..remote import JobOptions, Retry

    configure_logging(log_level, log_format)
    retry = Retry(attempts=retries)
    ends = _remote_models(
        _Side(source, model, source_token or token),
        _Side(target, target_model or model, target_token or token),
        timeout=timeout,
        retry=retry,
        push_size=push_size or batch_size,
    )
    options = JobOptions(
        where=_filter(where),
        batch_size=batch_size,
        in_flight=in_flight,
        on_conflict=ON_CONFLICT[on_conflict],
        live=live,
        retry=retry,
        interactive=sys.stderr.isatty(),
    )
    try:
        summary = asyncio.run(_run(*ends, state, options))
    except (Exception, KeyboardInterrupt) as exc:
        fail(ctx, exc)
    ctx.exit(report(summary, as_json, live))


@dataclass(frozen=True, slots=True)
class _Side:
    """A server, a model on it and the token to use there, as the options name them."""

    url: str
    model: str
    token: str | None


def _remote_models(
    source: _Side, target: _Side, *, timeout: float, retry: Retry, push_size: int
) -> tuple[RemoteModel, RemoteModel]:
    """The source, and the target as replication writes to it: ``push_size`` updates a
    request, results without ``rev`` and ``data``. Usage errors for a URL that is not
    http(s), and for a model copied onto itself."""
    from ..remote import RemoteModel

    try:
        reader = RemoteModel(source.url, source.model, source.token, timeout=timeout, retry=retry)
        writer = RemoteModel(
            target.url,
            target.model,
            target.token,
            timeout=timeout,
            retry=retry,
            push_size=push_size,
            full_results=False,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if (reader.url, reader.model) == (writer.url, writer.model):
        raise click.UsageError("--source and --target name the same model on the same server")
    return reader, writer


def _filter(where: str | None) -> Any:
    """The ``--where`` filter, parsed."""
    try:
        return None if where is None else orjson.loads(where)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--where") from None


async def _run(
    source: RemoteModel, target: RemoteModel, state: Path | None, options: JobOptions
) -> Summary:
    """Run the job, with both models open and the state file (if any) locked."""
    from ..remote import ReplicationJob, StateFile

    async with source, target:
        with StateFile(state) if state is not None else contextlib.nullcontext() as file:
            return await _until_stopped(ReplicationJob(source, target, options, file))


async def _until_stopped(job: ReplicationJob) -> Summary:
    """``job.run()``. The first SIGINT or SIGTERM stops it once the batch being pushed is
    applied and stored (at once when there is none); a second stops it at once."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    signals = 0

    def stop() -> None:
        nonlocal signals
        signals += 1
        if job.request_stop() or signals > 1:
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)
    try:
        return await job.run()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
