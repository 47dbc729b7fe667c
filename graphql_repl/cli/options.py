"""What several commands share: the ``--store`` and ``--log-level`` options, and the
settings and models their options name (a bad value is a usage error, not a traceback)."""

from __future__ import annotations

from typing import Any

import click

from ..demo import demo_registry
from ..models import Registry
from ..settings import DEFAULT_STORE, Settings

store_option = click.option(
    "--store", help=f"Store URL (default {DEFAULT_STORE}; also GRAPHQL_REPL_STORE)."
)
log_level_option = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)


def settings_of(**options: Any) -> Settings:
    """The settings: these options, else ``GRAPHQL_REPL_*`` variables, else the defaults."""
    try:
        return Settings.from_env(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def registry_of(models: str | None) -> Registry:
    """The models declared by module ``models`` (``--models``); the demo models for None."""
    if models is None:
        return demo_registry()
    try:
        return Registry.from_module(models)
    except (ImportError, ValueError) as exc:
        raise click.UsageError(f"--models {models}: {exc}") from None
