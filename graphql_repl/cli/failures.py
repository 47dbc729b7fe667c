"""How every command ends when it fails: one line on stderr naming what to do, and the
exit code of ``exits.py``; a traceback only with ``--debug`` (or ``GRAPHQL_REPL_DEBUG=1``).

Commands raise ``Failure`` for what a user can cause and fix (a store that cannot be
opened, a port in use); Click's usage errors become one line too, pointing at ``--help``;
anything else is an unexpected error (exit code 1).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import click

from .exits import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE

DEBUG_VARIABLE = "GRAPHQL_REPL_DEBUG"


class Failure(Exception):
    """A failure the user can act on: ``message`` (one line) and the exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def debug_wanted(ctx: click.Context | None = None) -> bool:
    """Whether ``--debug`` or ``GRAPHQL_REPL_DEBUG`` asks for tracebacks."""
    root = ctx.find_root() if ctx is not None else click.get_current_context(silent=True)
    if root is not None and root.find_root().meta.get("debug"):
        return True
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def one_line(text: str) -> str:
    """``text`` on one line (a driver's message may span several)."""
    return " ".join(text.split())


class Main(click.Group):
    """The ``graphql-repl`` group: runs a command and turns whatever ends it into an exit
    code, printing a failure as one line on stderr."""

    debug = False  # set by ``--debug`` (the group's callback) for this process

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            self._show_cause(exc)
            _exit(_usage(exc), EXIT_USAGE)
        except Failure as exc:
            self._show_cause(exc)
            _exit(exc.message, exc.exit_code)
        except click.ClickException as exc:
            self._show_cause(exc)
            _exit(exc.format_message(), exc.exit_code)
        except click.Abort:
            _exit("interrupted", EXIT_INTERRUPTED)
        except Exception as exc:
            if self.debug or debug_wanted():
                traceback.print_exc()
            hint = f" (run with --debug or {DEBUG_VARIABLE}=1 for the traceback)"
            _exit(f"unexpected error: {type(exc).__name__}: {one_line(str(exc))}{hint}", EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else 0)

    def _show_cause(self, exc: BaseException) -> None:
        cause = exc.__cause__
        if cause is not None and (self.debug or debug_wanted()):
            traceback.print_exception(cause)


def _usage(exc: click.UsageError) -> str:
    where = exc.ctx.command_path if exc.ctx is not None else "graphql-repl"
    return f"{one_line(exc.format_message())} (see {where} --help)"


def _exit(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def quiet(logger: str, debug: bool) -> Iterator[None]:
    """Keep ``logger``'s records (and its children's) off stderr for the block, unless
    ``debug``: while a command opens its store, a failure is reported once, as its one line,
    not also as the store's log lines."""
    if debug:
        yield
        return
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        target.setLevel(level)
