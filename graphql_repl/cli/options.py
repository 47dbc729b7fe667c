"""What several commands share: the ``--store``, ``--log-level`` and ``--log-format``
options, and the settings and models their options name (a bad value is a usage error,
not a traceback)."""

from __future__ import annotations

from typing import Any

import click

from ..demo import demo_registry
from ..models import Registry
from ..settings import DEFAULT_STORE, Settings
from .exits import EXIT_USAGE
from .failures import Failure, one_line

store_option = click.option(
    "--store", help=f"Store URL (default {DEFAULT_STORE}; also GRAPHQL_REPL_STORE)."
)
log_level_option = click.option(
    "--log-level",
    default="info",
    show_default=True,
    envvar="GRAPHQL_REPL_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="The least severe log lines written (also GRAPHQL_REPL_LOG_LEVEL).",
)
log_format_option = click.option(
    "--log-format",
    default="text",
    show_default=True,
    envvar="GRAPHQL_REPL_LOG_FORMAT",
    type=click.Choice(["text", "json"]),
    help="Log lines on stderr as text, or as JSON objects, one a line (also "
    "GRAPHQL_REPL_LOG_FORMAT).",
)


def settings_of(**options: Any) -> Settings:
    """The settings: these options, else ``GRAPHQL_REPL_*`` variables, else the defaults."""
    try:
        return Settings.from_env(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def registry_of(models: str | None) -> Registry:
    """The models declared by module ``models`` (``--models``); the demo models for None."""
    if models is None:
        return demo_registry()
    try:
        return Registry.from_module(models)
    except (ImportError, ValueError) as exc:
        raise click.UsageError(f"--models {models}: {exc}") from exc
    except Exception as exc:  # the module's own code failed (a syntax error, a NameError...)
        raise Failure(
            f"--models {models}: the module failed to load: {type(exc).__name__}: "
            f"{one_line(str(exc))} (--debug shows the traceback)",
            EXIT_USAGE,
        ) from exc
