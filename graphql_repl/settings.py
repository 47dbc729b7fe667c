"""Settings: one frozen object built from arguments and ``GRAPHQL_REPL_*`` variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_STORE = "sqlite:///graphql_repl.db"


@dataclass(frozen=True)
class Settings:
    store: str = DEFAULT_STORE
    host: str = "127.0.0.1"
    port: int = 8000
    # A module declaring the served models (a ``MODELS`` sequence, or every ``Model`` in
    # it); the demo models when unset.
    models: str | None = None
    # Ancestor state ids kept per document: how far back "this descends from that" can be
    # told; an edit chain longer than this between two syncs looks concurrent.
    history_limit: int = 50
    # Contents of the most recent ancestors kept per document, as three-way merge bases.
    merge_base_limit: int = 4
    # Documents per transaction in bulk updates, and per page in replicate().
    replication_chunk_size: int = 500
    # replicate() passes: a pass that ends with new source changes (written meanwhile)
    # is followed by another, at most this many in all.
    replication_max_attempts: int = 3
    # Changes queued for one changeFeed subscriber before it is cut off as too slow
    # (it can resubscribe from its last checkpoint).
    feed_max_pending: int = 10_000

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        for name in (
            "history_limit",
            "merge_base_limit",
            "replication_chunk_size",
            "replication_max_attempts",
            "feed_max_pending",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def store_display(self) -> str:
        """The store URL with any password hidden, for logs and messages."""
        parts = urlsplit(self.store)
        if parts.password is None:
            return self.store
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``GRAPHQL_REPL_<NAME>`` variables; ``overrides`` that are not
        None (command-line arguments) take precedence."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"GRAPHQL_REPL_{f.name.upper()}")
            if raw is not None:
                try:
                    values[f.name] = int(raw) if f.type == "int" else raw
                except ValueError:
                    raise ValueError(f"GRAPHQL_REPL_{f.name.upper()} must be an integer") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
