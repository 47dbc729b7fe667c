"""The ``graphql-repl`` command line."""

from __future__ import annotations

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="graphql-repl")
def main() -> None:
    """graphql_repl: keep copies of data in sync through a GraphQL API."""
