"""Settings: one frozen object built from arguments and ``GRAPHQL_REPL_*`` variables."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.config import Config

from .stores.url import StoreURL

ENV_PREFIX = "GRAPHQL_REPL_"
DEFAULT_STORE = StoreURL("sqlite:///graphql_repl.db")
#: The default of ``Settings.auth_recheck_interval`` (seconds).
AUTH_RECHECK_INTERVAL = 2.0


@dataclass(frozen=True)
class Settings:
    """Everything a server is configured with: ``Settings.from_env()`` reads the
    environment; fields not given keep the defaults below."""

    store: StoreURL = DEFAULT_STORE
    host: str = "127.0.0.1"
    port: int = 8000
    # A module declaring the served models (a ``MODELS`` sequence, or every ``Model`` in
    # it); the demo models when unset.
    models: str | None = None
    # Server processes sharing the port and the store (``serve --workers``).
    workers: int = 1
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
    # Seconds a store on a server (MongoDB) may take to connect before an operation gives
    # up: start-up fails within it, and /ready answers within it.
    connect_timeout: float = 10.0
    # A bearer token that GET /metrics requires; unset, /metrics answers only clients on
    # the loopback interface.
    metrics_token: str | None = field(default=None, repr=False)

    # -- security: who may connect, and how much one request may ask for -------------
    # Browser origins allowed to call the API cross-origin (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Accept HS256-signed JWTs (claims: role, optional tenant, exp) signed with this
    # secret, besides the server's own tokens. Off when unset.
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_audience: str | None = None
    # How often an open subscription checks that its token was not revoked or expired.
    auth_recheck_interval: float = AUTH_RECHECK_INTERVAL
    # Largest HTTP request body, and largest WebSocket message, in bytes.
    max_body_bytes: int = 10 * 1024 * 1024
    # Largest query: nesting depth of selections, aliased fields, and lexical tokens.
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 10_000
    # Most updates in one bulkUpdate, and changes in one diff.
    max_batch: int = 5000
    # Most subscriptions open at once on one WebSocket connection.
    max_subscriptions: int = 100
    # Seconds a WebSocket may stay open without connection_init.
    ws_init_timeout: float = 10.0
    # WebSocket protocol pings: sent every interval; a peer that does not answer within
    # the timeout is disconnected. The legacy graphql-ws protocol also gets its "ka"
    # keep-alive messages at the keep-alive interval.
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    keep_alive_interval: float = 15.0

    def __post_init__(self) -> None:
        # A plain string is accepted for the store, as callers and tests write it.
        object.__setattr__(self, "store", StoreURL(self.store))
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        for name in (
            "workers",
            "history_limit",
            "merge_base_limit",
            "replication_chunk_size",
            "replication_max_attempts",
            "feed_max_pending",
            "max_body_bytes",
            "max_depth",
            "max_aliases",
            "max_tokens",
            "max_batch",
            "max_subscriptions",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "auth_recheck_interval",
            "ws_init_timeout",
            "ws_ping_interval",
            "ws_ping_timeout",
            "keep_alive_interval",
            "connect_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < 32:
            raise ValueError("jwt_secret must be at least 32 bytes (HS256 key length)")
        for origin in self.cors_origins:
            if origin != "*" and not urlsplit(origin).scheme:
                raise ValueError(f"CORS origin {origin!r} must be a URL like https://app.example")

    @property
    def store_display(self) -> str:
        """The store URL with any password hidden, for logs and messages."""
        return str(self.store)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``GRAPHQL_REPL_<NAME>`` variables; ``overrides`` that are not
        None (command-line arguments) take precedence."""
        config = Config(environ=os.environ if environ is None else environ, env_prefix=ENV_PREFIX)
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.name.upper()
            try:
                value = config(name, cast=_cast(hints[f.name]), default=None)
            except _Refused as exc:
                raise ValueError(f"{ENV_PREFIX}{name} {exc}") from None
            if value is not None:
                values[f.name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class _Refused(Exception):
    """A variable's value its cast cannot use, with the reason to show. Not a ValueError:
    ``Config`` would replace its message with one that quotes the value, a password too."""


def _cast(hint: Any) -> Callable[[str], Any]:
    """How a variable becomes a value of the field type ``hint``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        (item, _) = typing.get_args(hint)  # tuple[item, ...]: comma-separated
        cast = _cast(item)
        return lambda raw: tuple(cast(part.strip()) for part in raw.split(",") if part.strip())
    if hint in (int, float):
        return _number(hint)
    if hint is StoreURL:
        return _store_url
    if hint is str:
        return str
    raise TypeError(f"No cast for settings of type {hint!r}")


def _number(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def cast(raw: str) -> int | float:
        try:
            return kind(raw)
        except ValueError:
            raise _Refused(f"must be a number, got {raw!r}") from None

    return cast


def _store_url(raw: str) -> StoreURL:
    try:
        return StoreURL(raw)
    except ValueError as exc:
        raise _Refused(f"is not a store URL: {exc}") from None
