"""The ``graphql-repl`` command line (CONTRACT §7): ``serve``, ``token``, ``replicate`` and
``export-schema``, each command (or group) in a module of its own."""

from __future__ import annotations

import sys

import click

from .. import __version__
from .options import registry_of
from .replicate import replicate
from .serve import serve
from .tokens import token


@click.group()
@click.version_option(__version__, prog_name="graphql-repl")
def main() -> None:
    """graphql_repl: keep copies of data in sync through a GraphQL API."""


@main.command("export-schema")
@click.option("--models", help="Module declaring the models (default: the demo models).")
def export_schema(models: str | None) -> None:
    """Print the GraphQL SDL."""
    from ..api import build_schema

    sys.stdout.write(build_schema(registry_of(models)).as_str() + "\n")


main.add_command(serve)
main.add_command(token)
main.add_command(replicate)
