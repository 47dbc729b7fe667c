"""WebSocket connections as operators see them: when one opens and closes (its close code,
its reason, who closed it, how many subscriptions it served), told through ``Events``.

``tracked`` runs the app for one WebSocket connection, watching the ASGI messages it sends
and receives; the ``Connection`` it keeps is in the scope (``connection_of``), so that the
connection's context counts its subscriptions and knows its caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from websockets.exceptions import InvalidState

from ..auth import Principal
from ..events import Events
from .events import WebSocketClosed, WebSocketOpened
from .lanes import Lanes

_SCOPE_KEY = "graphql_repl.connection"
_SEND_KEY = "graphql_repl.server_send"  # the ASGI server's own send, before any wrapper

WriteNow = Callable[[str], bool]


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


class ServerSend:
    """ASGI middleware, outermost: keeps the server's own ``send`` of each WebSocket
    connection in its scope, for ``immediate_writer``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[_SEND_KEY] = send
        await self.app(scope, receive, send)


def immediate_writer(scope: Scope) -> WriteNow | None:
    """A function that writes a text message to the WebSocket peer of ``scope`` in the
    caller's own step, returning False when it cannot now (the connection is closing or
    gone, or its buffer is full: the message must then go through the ASGI ``send``,
    which waits); None when the server is not uvicorn with its websockets-sansio protocol
    (the one it picks, ``ws="auto"``, with websockets installed).

    It writes as that protocol's own ``send`` does for a ``websocket.send`` message, from
    its private attributes: tests/api/test_direct_feed.py fails if a uvicorn release
    changes them."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:  # pragma: no cover - uvicorn is a dependency
        return None
    protocol = getattr(scope.get(_SEND_KEY), "__self__", None)
    if type(protocol) is not WebSocketsSansIOProtocol:
        return None
    try:
        conn, transport, writable = protocol.conn, protocol.transport, protocol.writable
        protocol.close_sent, protocol.disconnected, protocol.initial_response  # noqa: B018
    except AttributeError:
        return None

    def write(text: str) -> bool:
        if (
            protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or not writable.is_set()
            or transport.is_closing()
        ):
            return False
        try:
            conn.send_text(text.encode())
        except InvalidState:
            return False
        transport.write(b"".join(conn.data_to_send()))
        return True

    return write
