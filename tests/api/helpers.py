"""Clients of the API suite: raw HTTP (httpx), gql over HTTP and gql over WebSocket; the
schema in process is in in_process.py."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

if TYPE_CHECKING:
    from servers import Server  # tests/servers.py

# Generous: only reached when something is wrong.
EVENT_TIMEOUT = 20.0
HTTP_TIMEOUT = 60.0

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)

CHANGE_FIELDS = "model modelId type rev prev checkpoint data clock"
FEED = f"""
subscription Feed($model: String!, $since: Checkpoint, $where: JSON) {{
  changeFeed(model: $model, since: $since, where: $where) {{ {CHANGE_FIELDS} }}
}}
"""
CHANGES = f"""
query Changes($model: String!, $since: Checkpoint, $where: JSON, $limit: Int) {{
  changes(model: $model, since: $since, where: $where, limit: $limit) {{
    changes {{ {CHANGE_FIELDS} }}
    checkpoint
    hasMore
  }}
}}
"""
CHECKPOINT = "query Cp($model: String!) { checkpoint(model: $model) }"
BULK_UPDATE = """
mutation Bulk($model: String!, $updates: [UpdateInput!]!) {
  bulkUpdate(model: $model, updates: $updates) {
    results { modelId status rev data error }
    conflicts { model modelId sourceRev targetRev sourceData targetData fields }
    checkpoint
  }
}
"""
CREATE_NOTE = """
mutation Create($data: NoteInput!) {
  createNote(data: $data) { id title body tags views tenantId }
}
"""

# Small limits, so that each can be crossed cheaply (a server's environment, or the
# settings of the schema in process).
SMALL_LIMITS = {
    "GRAPHQL_REPL_MAX_BODY_BYTES": "20000",
    "GRAPHQL_REPL_MAX_BATCH": "10",
    "GRAPHQL_REPL_MAX_ALIASES": "4",
    "GRAPHQL_REPL_MAX_TOKENS": "300",
}


def uid(prefix: str = "") -> str:
    """A fresh id, so tests on the shared server never see each other's documents."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def auth_headers(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


class GraphQLErrors(AssertionError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"GraphQL errors: {errors}")
        self.errors = errors


class BaseApi(abc.ABC):
    """What the tests ask of a GraphQL client: ``post`` gives the response body as a client
    decodes it, the other methods check and unwrap it. ``Api`` posts over real HTTP;
    ``in_process.LocalApi`` executes the schema in this process."""

    @abc.abstractmethod
    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The response body of one request."""

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a request that must succeed."""
        body = await self.post(query, variables)
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[Any]:
        """The ``errors`` of a request that must fail; each checked for a clean message."""
        body = await self.post(query, variables)
        errors = body.get("errors")
        assert errors, f"expected errors, got {body}"
        for error in errors:
            assert_clean(error)
        return list(errors)

    async def code(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """The single ``extensions.code`` of a request that must fail."""
        return single_code(await self.errors(query, variables))

    # -- shortcuts ------------------------------------------------------------------------

    async def checkpoint(self, model: str = "Note") -> str:
        cp: str = (await self.data(CHECKPOINT, {"model": model}))["checkpoint"]
        return cp

    async def bulk(self, model: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self.data(BULK_UPDATE, {"model": model, "updates": updates})
        )["bulkUpdate"]
        return result

    async def create_note(self, **fields: Any) -> dict[str, Any]:
        note: dict[str, Any] = (await self.data(CREATE_NOTE, {"data": fields}))["createNote"]
        return note

    async def all_changes(
        self,
        model: str = "Note",
        since: str | None = None,
        where: Any = None,
        limit: int = 500,
    ) -> tuple[list[dict[str, Any]], str]:
        """Every change after ``since``, following ``hasMore``; and the last checkpoint."""
        out: list[dict[str, Any]] = []
        while True:
            page = (
                await self.data(
                    CHANGES, {"model": model, "since": since, "where": where, "limit": limit}
                )
            )["changes"]
            out += page["changes"]
            since = page["checkpoint"]
            if not page["hasMore"]:
                assert since is not None
                return out, since


class Api(BaseApi):
    """Raw GraphQL over HTTP with httpx: every response body is checked as it came."""

    def __init__(self, server: Server, token: str | None = None) -> None:
        self.server = server
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.post(
                self.server.url,
                json={"query": query, "variables": variables},
                headers=auth_headers(self.token),
            )
        assert response.status_code == 200, (response.status_code, response.text[:500])
        body: dict[str, Any] = response.json()
        return body


def notes_for_bulk(ids: list[str], **fields: Any) -> list[dict[str, Any]]:
    """CREATE updates for new Notes with these ids."""
    return [{"modelId": i, "type": "CREATE", "data": {"id": i, "title": i, **fields}} for i in ids]


def codes(errors: list[Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in errors]


def single_code(errors: list[Any]) -> str:
    found = codes(errors)
    assert len(found) == 1, f"expected one error, got {errors}"
    code = found[0]
    assert code is not None, f"error without extensions.code: {errors}"
    return code


_INTERNALS = re.compile(
    r"Traceback|File \"|site-packages|\.py\b|/work/|/usr/|/root/|sqlite3\.|\bline \d+,",
)


def assert_clean(error: dict[str, Any]) -> None:
    """CONTRACT §6: no stack trace or internal detail in an error message."""
    message = str(error.get("message", ""))
    assert not _INTERNALS.search(message), f"internal detail in error message: {message[:500]}"
    assert "stacktrace" not in str(error.get("extensions") or {}), error


@asynccontextmanager
async def gql_http(server: Server, token: str | None) -> AsyncIterator[AsyncClientSession]:
    """A gql session over HTTP (HTTPXAsyncTransport)."""
    transport = HTTPXAsyncTransport(
        url=server.url, headers=auth_headers(token), timeout=HTTP_TIMEOUT
    )
    async with Client(transport=transport, execute_timeout=HTTP_TIMEOUT) as session:
        yield session


async def gql_execute(
    session: AsyncClientSession, query: str, variables: dict[str, Any] | None = None
) -> Any:
    return await session.execute(GraphQLRequest(query, variable_values=variables))


_COMPLETE = object()


class FeedCompleted(Exception):
    """The server completed the subscription."""


class Feed:
    """A ``changeFeed`` subscription over gql's WebsocketsTransport, read through a queue
    (another subscription field: ``query`` and ``field``).

    ``init_payload`` defaults to ``{"Authorization": "Bearer <token>"}`` (no payload when
    ``token`` is None)."""

    def __init__(
        self,
        server: Server,
        token: str | None,
        *,
        protocol: str = TRANSPORT_WS,
        model: str = "Note",
        since: str | None = None,
        where: Any = None,
        init_payload: dict[str, Any] | None = None,
        query: str = FEED,
        field: str = "changeFeed",
    ) -> None:
        self.field = field
        if init_payload is None:
            init_payload = {} if token is None else {"Authorization": f"Bearer {token}"}
        self.transport = WebsocketsTransport(
            url=server.ws_url,
            init_payload=init_payload,
            subprotocols=[protocol],
            connect_timeout=EVENT_TIMEOUT,
            close_timeout=5,
            ack_timeout=EVENT_TIMEOUT,
            keep_alive_timeout=None,
        )
        self.client = Client(transport=self.transport)
        self.request = GraphQLRequest(
            query, variable_values={"model": model, "since": since, "where": where}
        )
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Feed:
        session = await self.client.connect_async()
        assert self.transport.subprotocol in PROTOCOLS
        self.task = asyncio.create_task(self._pump(session))
        return self

    async def _pump(self, session: AsyncClientSession) -> None:
        try:
            async for result in session.subscribe(self.request):
                await self.queue.put(result[self.field])
            await self.queue.put(_COMPLETE)
        except Exception as exc:
            await self.queue.put(exc)

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close_async(), 10)

    async def next(self) -> dict[str, Any]:
        """The next change; raises what the subscription raised, or FeedCompleted. Waits
        at most EVENT_TIMEOUT; a caller expecting an answer sooner bounds the wait itself
        (``asyncio.wait_for``)."""
        item = await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT)
        if isinstance(item, BaseException):
            raise item
        if item is _COMPLETE:
            raise FeedCompleted()
        change: dict[str, Any] = item
        return change

    async def take(self, n: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(n)]

    async def until(self, model_id: str) -> list[dict[str, Any]]:
        """Every change up to and including the first one of ``model_id``."""
        out = []
        while True:
            change = await self.next()
            out.append(change)
            if change["modelId"] == model_id:
                return out

    async def until_end(self) -> NoReturn:
        """Read changes until the subscription ends; raises what ended it."""
        while True:
            await self.next()


def ids_of(changes: list[dict[str, Any]]) -> list[str]:
    return [c["modelId"] for c in changes]


async def make_user_conflict(api: BaseApi) -> tuple[str, dict[str, Any]]:
    """A User both sides renamed since r0 (User fields are MANUAL): a recorded conflict.
    Returns the id and the remote update."""
    user_id = uid("u-")
    r0 = (
        await api.bulk(
            "User",
            [
                {
                    "modelId": user_id,
                    "type": "CREATE",
                    "data": {"id": user_id, "name": "a", "email": "e@x"},
                }
            ],
        )
    )["results"][0]["rev"]
    await api.data(
        'mutation($id: ID!) { updateUser(id: $id, data: {name: "b"}) { id } }', {"id": user_id}
    )
    update = {
        "modelId": user_id,
        "type": "UPDATE",
        "prev": r0,
        "data": {"id": user_id, "name": "c", "email": "e@x"},
    }
    result = await api.bulk("User", [update])
    (status,) = result["results"]
    assert status["status"] == "CONFLICT", status
    (conflict,) = result["conflicts"]
    assert conflict["model"] == "User"
    assert conflict["modelId"] == user_id
    assert conflict["fields"] == ["name"]
    assert conflict["sourceData"]["name"] == "c"
    assert conflict["targetData"]["name"] == "b"
    assert conflict["sourceRev"]
    assert conflict["targetRev"]
    # Nothing was written.
    user = (await api.data("query($id: ID!) { user(id: $id) { name } }", {"id": user_id}))["user"]
    assert user == {"name": "b"}
    return user_id, update
