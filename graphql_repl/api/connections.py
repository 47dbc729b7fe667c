"""WebSocket connections as operators see them: when one opens and closes (its close code,
its reason, who closed it, how many subscriptions it served), told through ``Events``.

``tracked`` runs the app for one WebSocket connection, watching the ASGI messages it sends
and receives; the ``Connection`` it keeps is in the scope (``connection_of``), so that the
connection's context counts its subscriptions and knows its caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth import Principal
from ..events import Events
from .events import WebSocketClosed, WebSocketOpened
from .lanes import Lanes

_SCOPE_KEY = "graphql_repl.connection"


@dataclass
class Connection:
    """One WebSocket connection, filled in as it goes."""

    client: str | None
    started: float = field(default_factory=time.monotonic)
    accepted: bool = False
    code: int | None = None
    reason: str = ""
    closed_by: str = "server"
    #: Subscriptions it served (counted when each starts).
    served: int = 0
    principal: Principal | None = None
    #: Its subscriptions' fast lanes (api/lanes.py).
    lanes: Lanes = field(default_factory=Lanes)


def client_of(scope: Scope) -> str | None:
    """``host:port`` of the peer of an HTTP or WebSocket scope."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def connection_of(scope: Scope) -> Connection | None:
    found: Any = scope.get(_SCOPE_KEY)
    return found if isinstance(found, Connection) else None


async def tracked(app: ASGIApp, scope: Scope, receive: Receive, send: Send, events: Events) -> None:
    """Run ``app`` for the WebSocket connection of ``scope``, telling ``events`` when it is
    accepted and when it ends."""
    connection = Connection(client_of(scope))
    scope[_SCOPE_KEY] = connection

    async def sending(message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept" and not connection.accepted:
            connection.accepted = True
            events.emit(WebSocketOpened(connection.client, message.get("subprotocol")))
        elif kind == "websocket.close" and connection.code is None:
            connection.code = message.get("code", 1000)
            connection.reason = message.get("reason") or ""
        await send(message)

    async def receiving() -> Message:
        message = await receive()
        if message["type"] == "websocket.disconnect" and connection.code is None:
            connection.code = message.get("code", 1005)
            connection.reason = message.get("reason") or ""
            connection.closed_by = "client"
        return message

    try:
        await app(scope, receiving, sending)
    finally:
        if connection.accepted:
            principal = connection.principal
            events.emit(
                WebSocketClosed(
                    connection.client,
                    connection.code,
                    connection.reason,
                    connection.closed_by,
                    connection.served,
                    principal.token_id if principal else None,
                    principal.tenant if principal else None,
                    round(time.monotonic() - connection.started, 3),
                )
            )
