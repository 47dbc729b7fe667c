"""What the API tells operators: one event per GraphQL operation, WebSocket connections
opening and closing, and tokens refused when a connection starts. Never a token's secret:
only its id."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..events import Event
from ..wording import plural

OK = "ok"


@dataclass(frozen=True, slots=True)
class Operation(Event):
    """One GraphQL operation, when it ended (a subscription: when it closed).

    ``outcome`` is ``ok`` or the contract error code of its first error; ``outcomes``
    has one per root field (the metrics count those); ``auth_failure`` says why a token
    was not good enough (``missing``, ``unknown``, ``revoked``, ``expired``, ``forbidden``...);
    ``events`` is how many results a subscription sent without errors."""

    kind = "graphql.operation"

    operation_type: str
    operation_name: str | None
    root_fields: tuple[str, ...]
    model: str | None
    token_id: str | None
    tenant: str | None
    outcome: str
    duration_ms: float
    client: str | None
    transport: str
    events: int | None = None
    resync: bool = False
    auth_failure: str | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict, metadata={"log": False})

    def message(self) -> str:
        what = self.operation_name or ",".join(self.root_fields) or "-"
        return f"{self.operation_type} {what} {self.outcome} in {self.duration_ms:.1f} ms"

    def log_level(self) -> int:
        return logging.WARNING if self.outcome == "INTERNAL_SERVER_ERROR" else logging.INFO


@dataclass(frozen=True, slots=True)
class WebSocketOpened(Event):
    kind = "websocket.open"

    client: str | None
    subprotocol: str | None

    def message(self) -> str:
        return f"WebSocket connection from {self.client} ({self.subprotocol})"


@dataclass(frozen=True, slots=True)
class WebSocketClosed(Event):
    """A WebSocket connection ended: its close ``code`` and ``reason``, who closed it,
    and how many subscriptions it served."""

    kind = "websocket.close"

    client: str | None
    code: int | None
    reason: str
    closed_by: str
    subscriptions: int
    token_id: str | None
    tenant: str | None
    seconds: float

    def message(self) -> str:
        return (
            f"WebSocket connection from {self.client} closed by the {self.closed_by} "
            f"({self.code}) after {self.seconds:.1f} s, {self.subscriptions} "
            f"{plural(self.subscriptions, 'subscription')}"
        )


@dataclass(frozen=True, slots=True)
class TokenRefused(Event):
    """A WebSocket connection's token was refused at ``connection_init``."""

    kind = "auth.refused"
    level = logging.WARNING

    reason: str
    token_id: str | None
    client: str | None

    def message(self) -> str:
        return f"token refused ({self.reason}) for {self.client}"
