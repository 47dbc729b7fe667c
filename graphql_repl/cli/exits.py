"""The exit codes of every ``graphql-repl`` command, in one table: the commands' ``--help``
and the README list them from here."""

from __future__ import annotations

from typing import Any

import click

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3
EXIT_REFUSED = 4
EXIT_UNAVAILABLE = 5
EXIT_REJECTED = 6
EXIT_STORE = 7
EXIT_LISTEN = 8
EXIT_INTERRUPTED = 130

#: What each code means, by the commands that use it.
MEANINGS = {
    EXIT_OK: "done (replicate --live, serve: stopped by SIGINT/SIGTERM)",
    EXIT_ERROR: "failed: an unexpected error (--debug shows the traceback); token revoke: "
    "no such token, or revoked already",
    EXIT_USAGE: "bad arguments or settings: an unknown option, a store URL of no accepted "
    "form, a --models module that cannot be loaded, a state file that cannot be used",
    EXIT_CONFLICTS: "replicate: done, but conflicts remain unresolved on the target",
    EXIT_REFUSED: "replicate: refused: wrong token, no permission, unknown model, bad input",
    EXIT_UNAVAILABLE: "unreachable: the store did not answer within GRAPHQL_REPL_CONNECT_TIMEOUT; "
    "replicate: a server stayed unreachable or failing after --retries",
    EXIT_REJECTED: "replicate: done, but the target rejected some updates",
    EXIT_STORE: "the store cannot be used here: its driver is not installed, its directory "
    "does not exist, or its file cannot be opened; token list/revoke: no store there",
    EXIT_LISTEN: "serve: cannot listen on --host/--port (in use, or not allowed)",
    EXIT_INTERRUPTED: "replicate: a one-shot run stopped by SIGINT/SIGTERM before it finished",
}


class CommandWithExitCodes(click.Command):
    """A command whose ``--help`` ends with the exit codes it may end with (``exit_codes``,
    given to ``@click.command(cls=CommandWithExitCodes, exit_codes=...)``)."""

    def __init__(self, *args: Any, exit_codes: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_codes = (EXIT_OK, EXIT_ERROR, EXIT_USAGE, *exit_codes)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Exit codes"):
            formatter.write_dl([(str(code), MEANINGS[code]) for code in sorted(self.exit_codes)])
