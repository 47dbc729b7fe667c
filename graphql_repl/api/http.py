"""GraphQL over HTTP and WebSocket: Strawberry's ASGI integration, with the request and
message checks, authentication and the contract's error bodies in front of it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected as ClosedWebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected

from .. import web
from ..auth import Principal, token_id_of
from ..replication import Repository
from .connections import client_of, connection_of, immediate_writer, tracked
from .context import Context, authenticator_for, bearer, header_token
from .errors import error_body
from .events import TokenRefused
from .fanout import SharedEvents, encode_frame, shared_result
from .schema import build_schema


def message_problem(message: object) -> str | None:
    """What is wrong with the shape of a WebSocket message of either subscription
    protocol, or None. Strawberry's protocol handlers index messages as they expect them,
    so a message of another shape must not reach them."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "a message needs a string type"
    payload = message.get("payload")
    if kind in ("subscribe", "start", "stop", "complete") and not isinstance(
        message.get("id"), str
    ):
        return f"a {kind} message needs a string id"
    if kind in ("subscribe", "start"):
        if not isinstance(payload, dict):
            return f"a {kind} message needs a payload object"
        if not isinstance(payload.get("query"), str):
            return "the payload's query must be a string"
        for name, shape in (("variables", dict), ("operationName", str), ("extensions", dict)):
            if payload.get(name) is not None and not isinstance(payload[name], shape):
                return f"the payload's {name} has the wrong type"
    elif payload is not None and not isinstance(payload, dict):
        return "a payload must be a JSON object"
    return None


class CheckedWebSocket(ASGIWebSocketAdapter):
    """Strawberry's WebSocket adapter, with messages of a wrong shape refused before the
    protocol handlers see them: graphql-transport-ws closes the connection with 4400
    (its code for an invalid message); the legacy graphql-ws protocol, which has no such
    code, skips them as it skips messages that are not JSON. Sends to a peer that has
    gone are dropped quietly."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
            problem = message_problem(message)
            if problem is None:
                yield message
            elif not ignore_parsing_errors:
                await self.close(4400, f"Invalid message: {problem}")
                return

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        connection = connection_of(response.scope)
        self.lanes = connection.lanes if connection is not None else None
        if self.lanes is not None:
            self.lanes.write = self.send_frame
            self.lanes.write_now = immediate_writer(response.scope)

    async def send_json(self, message: Mapping[str, object]) -> None:
        shared = shared_result(message)
        if shared is None:
            # A message to a peer that has gone is dropped: the connection's handler ends
            # its operations when its receive loop sees the disconnect. (The legacy
            # protocol's handler would otherwise leave the error in a task nobody awaits.)
            with contextlib.suppress(WebSocketDisconnected, ClosedWebSocket):
                await super().send_json(message)
            return
        # A feed event, encoded once for its group (api/fanout.py); its subscription may
        # write the next ones itself (api/lanes.py).
        if self.lanes is not None:
            self.lanes.sent(*shared)
        await self.send_frame(encode_frame(*shared))

    async def send_frame(self, text: str) -> None:
        """Send an encoded message; dropped, as any other, when the peer has gone."""
        # ``self.ws`` (the Starlette WebSocket) is an attribute of Strawberry's adapter,
        # not a documented API: tests/api/test_fanout_property.py and the feed tests
        # (tests/api/test_change_feed.py) fail if a Strawberry release renames it.
        with contextlib.suppress(WebSocketDisconnect, ClosedWebSocket):
            await self.ws.send_text(text)


class GraphQLApp(GraphQL[Context, None]):
    websocket_adapter_class = CheckedWebSocket

    def __init__(self, repository: Repository, **kwargs: Any) -> None:
        settings = repository.settings
        super().__init__(
            build_schema(repository.registry, settings),
            keep_alive=True,
            keep_alive_interval=settings.keep_alive_interval,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout),
            # Counted (and refused with a contract error code) by changeFeed itself.
            max_subscriptions_per_connection=None,
            # Browser pages on these origins may open WebSockets (same-origin pages and
            # non-browser clients always may).
            allowed_origins=settings.cors_origins,
            **kwargs,
        )
        self.repository = repository
        self.events = SharedEvents()
        self.authenticator = authenticator_for(repository)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await tracked(super().__call__, scope, receive, send, self.repository.events)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Strawberry answers requests it cannot read with plain text; clients of a
        # GraphQL API expect a GraphQL error.
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            code = "NOT_FOUND" if exc.status_code == 404 else "BAD_USER_INPUT"
            response = JSONResponse(error_body(exc.reason, code), exc.status_code)
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:  # invalid JSON or invalid UTF-8
            raise HTTPException(400, "Unable to parse the request body as JSON") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request must be a JSON object with a query")
        return value

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        # The body of a plain HTTP answer, encoded by orjson (several times faster than the
        # json module on a page of changes). WebSocket messages keep Strawberry's encoding.
        response = Response(_encoded(response_data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        response.status_code = sub_response.status_code or 200
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        page = web.graphiql_html()
        return HTMLResponse(page) if page is not None else await super().render_graphql_ide(request)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        token = bearer(request.headers.get("authorization"))
        verdict = None if token is None else await self.authenticator.check(token)
        return Context(
            self.repository,
            self.events,
            self.authenticator,
            verdict if isinstance(verdict, Principal) else None,
            client=client_of(request.scope),
            refusal=verdict if isinstance(verdict, str) else None,
            connection=connection_of(request.scope),
        )

    async def on_ws_connect(self, context: Context) -> None:
        # CONTRACT §5: {"Authorization": "Bearer <token>"}, {"token": "<token>"}, or the
        # shape RxDB and other clients send, {"headers": {"Authorization": "Bearer ..."}}.
        params = context.connection_params or {}
        token = header_token(params) or header_token(params.get("headers"))
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        if token is not None:
            verdict = await self.authenticator.check(token)
            if not isinstance(verdict, Principal):
                self.repository.events.emit(TokenRefused(verdict, _token_id(token), context.client))
                raise ConnectionRejectionError(
                    {"message": "Unknown, revoked or expired token", "code": "UNAUTHENTICATED"}
                )
            context.principal = verdict
            if context.connection is not None:
                context.connection.principal = verdict


def _encoded(data: Any) -> bytes:
    """``data`` as JSON; the json module for what orjson refuses (integers beyond 64 bits
    in a JSON value)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, separators=(",", ":")).encode()


def _token_id(token: str) -> str | None:
    """The id of one of our tokens, for the logs (never the secret); None for others."""
    token_id = token_id_of(token)
    return token_id if token_id != token else None
