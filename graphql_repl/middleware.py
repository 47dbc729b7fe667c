"""The ASGI middleware in front of the application: the request-size limit and CORS, and
(outermost) the server's own WebSocket ``send`` kept for the feed's immediate writes."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api.connections import ServerSend
from .api.errors import error_body
from .settings import Settings


def middleware(settings: Settings) -> list[Middleware]:
    stack = [Middleware(BodyLimit, max_bytes=settings.max_body_bytes)]
    if settings.cors_origins:
        stack.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
                max_age=600,
            ),
        )
    stack.insert(0, Middleware(ServerSend))
    return stack


class BodyLimit:
    """Answers HTTP requests whose body is larger than ``max_bytes`` with 413 and a
    GraphQL error (BAD_USER_INPUT), reading no more of the body than the limit.
    (WebSocket messages are limited by the server: ``ws_max_size``.)"""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The request body is larger than {self.max_bytes} bytes"
        response = JSONResponse(error_body(message, "BAD_USER_INPUT"), status_code=413)
        # Connection: close, as the rest of the body is not read.
        response.headers["connection"] = "close"
        await response(scope, receive, send)
