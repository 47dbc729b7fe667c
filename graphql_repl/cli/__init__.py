"""The ``graphql-repl`` command line (CONTRACT §7): ``serve``, ``token``, ``replicate`` and
``export-schema``, each command (or group) in a module of its own."""

from __future__ import annotations

import sys

import click

from .. import __version__
from .failures import DEBUG_VARIABLE, Main
from .options import registry_of
from .replicate import replicate
from .serve import serve
from .tokens import token


@click.group(cls=Main)
@click.version_option(__version__, prog_name="graphql-repl")
@click.option(
    "--debug",
    is_flag=True,
    help=f"Show the traceback of a failure (also {DEBUG_VARIABLE}=1).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """graphql_repl: keep copies of data in sync through a GraphQL API.

    Every command that fails says why on one line of stderr and ends with an exit code
    that tells the kind of failure (each command's --help lists its codes; README:
    "Operating it")."""
    if debug:
        ctx.meta["debug"] = True
        Main.debug = True


@main.command("export-schema")
@click.option(
    "--models",
    help="Module declaring the models: a module name (the current directory is searched "
    "too) or a .py file. Default: the demo models.",
)
def export_schema(models: str | None) -> None:
    """Print the GraphQL SDL."""
    from ..api import build_schema

    sys.stdout.write(build_schema(registry_of(models)).as_str() + "\n")


main.add_command(serve)
main.add_command(token)
main.add_command(replicate)
