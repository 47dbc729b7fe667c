"""What ``graphql-repl replicate`` tells when it ends: the summary on stdout (text, or one
JSON object) and the exit code it calls for; for a run that failed, one error line on
stderr and the exit code of what ended it (one table)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click
import orjson

from ..errors import PermanentError, StateError, TransientError
from ..wording import plural
from .exits import (
    EXIT_CONFLICTS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from .failures import debug_wanted

if TYPE_CHECKING:
    from ..remote import Summary

log = logging.getLogger(__name__)


def report(summary: Summary, as_json: bool, live: bool) -> int:
    """Print the summary on stdout; return the exit code it calls for."""
    code = _outcome(summary, live)
    if as_json:
        click.echo(orjson.dumps({**summary.as_json(), "exitCode": code}).decode())
    else:
        _print_summary(summary)
    return code


def _outcome(summary: Summary, live: bool) -> int:
    """The exit code of a run that ended with ``summary``."""
    if summary.conflicts:
        return EXIT_CONFLICTS
    if summary.rejected:
        return EXIT_REJECTED
    if summary.stopped and not live:
        return EXIT_INTERRUPTED
    return EXIT_OK


def _print_summary(summary: Summary) -> None:
    rate = summary.read / summary.seconds if summary.seconds > 0 else 0.0
    click.echo(
        f"{summary.label}: {summary.read:,} {plural(summary.read, 'change')} in "
        f"{summary.seconds:.1f} s "
        f"({rate:,.0f} docs/s): {summary.counts_text()}"
    )
    if summary.resynced:
        click.echo("The source could not continue from the stored checkpoint: copied it all.")
    if summary.resolved:
        resolved = summary.resolved
        click.echo(f"{resolved:,} {plural(resolved, 'conflict')} resolved on the target.")
    if summary.conflicts:
        left = len(summary.conflicts)
        click.echo(
            f"{left:,} {plural(left, 'conflict')} left unresolved on the target: "
            f"{_ids(summary.conflicts)} (resolve them with resolveConflict, or run again "
            "with --on-conflict source|target)"
        )
    if summary.rejected:
        click.echo(
            f"{len(summary.rejected):,} {plural(len(summary.rejected), 'update')} rejected by "
            f"the target: {_ids(summary.rejected)}"
        )
    if summary.stopped:
        click.echo("Stopped; the checkpoints of everything applied are stored.")


def _ids(ids: Any, limit: int = 50) -> str:
    listed = list(ids)
    text = ", ".join(listed[:limit])
    return text + (f" and {len(listed) - limit:,} more" if len(listed) > limit else "")


def _gave_up(exc: TransientError) -> str:
    attempts = f"; gave up after {exc.attempts} attempts" if exc.attempts > 1 else ""
    return f"{exc.message}{attempts}"


def _unexpected(exc: Exception) -> str:
    log.debug("replicate failed", exc_info=exc)
    hint = "" if debug_wanted() else " (run with --debug for the traceback)"
    return f"unexpected error: {type(exc).__name__}: {exc}{hint}"


# A failed run's exit code and message, by what ended it: the nearest of its classes here
# counts (ResyncRequired as a PermanentError; KeyboardInterrupt: before the signal handlers
# were in place).
FAILURES: dict[type[BaseException], tuple[int, Callable[[Any], str]]] = {
    StateError: (EXIT_USAGE, lambda exc: exc.message),
    PermanentError: (EXIT_REFUSED, lambda exc: exc.message),
    TransientError: (EXIT_UNAVAILABLE, _gave_up),
    KeyboardInterrupt: (EXIT_INTERRUPTED, lambda exc: "interrupted"),
    Exception: (EXIT_ERROR, _unexpected),
}


def fail(ctx: click.Context, exc: BaseException) -> NoReturn:
    """Print what ended the run as one line on stderr, and exit with its code."""
    nearest = next(cls for cls in type(exc).__mro__ if cls in FAILURES)
    code, describe = FAILURES[nearest]
    if debug_wanted(ctx):
        traceback.print_exception(exc)
    click.echo(f"Error: {describe(exc)}", err=True)
    ctx.exit(code)
