"""A model on a remote graphql_repl server, over GraphQL: the other kind of replication end.

``RemoteModel`` offers the operations ``replicate()`` uses (``checkpoint``, ``changes``,
``bulk_update``: the ``Endpoint`` protocol), plus ``diff``, ``conflicts``,
``resolve_conflict`` and ``feed`` (the ``changeFeed`` subscription), and converts to and from
the replication layer's dataclasses. Requests go through the ``gql`` client: HTTP with its
HTTPX transport, the feed over WebSocket (graphql-transport-ws).

Failures become the ``RemoteError`` tree of ``graphql_repl.errors`` (``failures.mapped``);
transient ones are retried as ``Retry`` says. The GraphQL documents and the conversions
to and from their shapes are in ``wire``.

    async with RemoteModel("http://127.0.0.1:8000", "Note", token) as notes:
        page = await notes.changes(since=None, limit=100)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from ..models import Document
from ..replication.replicate import ChangesQuery, Endpoint
from ..replication.types import (
    MAX_PAGE_SIZE,
    BulkUpdateResult,
    Change,
    ChangeInput,
    ChangePage,
    Conflict,
    Diff,
    Resolution,
    Update,
    UpdateResult,
)
from .failures import Retry, mapped
from .wire import (
    BULK_UPDATE,
    CHANGES,
    CHECKPOINT,
    CONFLICTS,
    DIFF,
    FEED,
    RESOLVE,
    change_of,
    conflict_of,
    update_input,
    update_result_of,
    without_nulls,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_JSON_CONTENT = {"Content-Type": "application/json"}


def graphql_url(url: str) -> str:
    """A server's GraphQL endpoint: a base URL (``http://host:8000``) gets ``/graphql``;
    a URL with another path is taken as the endpoint itself."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path if parts.path not in ("", "/") else "/graphql"
    return urlunsplit(parts._replace(path=path))


def websocket_url(url: str) -> str:
    """The WebSocket URL of a server's GraphQL endpoint (``wss`` for ``https``)."""
    parts = urlsplit(graphql_url(url))
    return urlunsplit(parts._replace(scheme="wss" if parts.scheme == "https" else "ws"))


class RemoteModel(Endpoint):
    """Model ``model`` on the graphql_repl server at ``url`` (a base URL, or its
    ``/graphql`` endpoint), seen with ``token``.

    ``timeout`` bounds each request (seconds). ``retry`` says how transient failures are
    retried (``NO_RETRY`` to raise them at once). ``push_size`` splits ``bulk_update`` into
    requests of at most that many updates (the server takes at most ``MAX_PAGE_SIZE``). With
    ``full_results=False`` the results of ``bulk_update`` come back without their ``rev``
    and ``data`` (None), which replication does not need: less for both sides to do. With
    ``read_ahead`` (the default), ``changes`` fetches the page after the one it returns in
    the background, and returns it at once when it is asked for next.
    """

    def __init__(
        self,
        url: str,
        model: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        push_size: int = MAX_PAGE_SIZE,
        full_results: bool = True,
        read_ahead: bool = True,
    ) -> None:
        self.url = graphql_url(url)
        self.ws_url = websocket_url(url)
        self.model = model
        self.token = token
        self.timeout = timeout
        self.retry = retry or Retry()
        self.push_size = push_size
        self.full_results = full_results
        self.read_ahead = read_ahead
        self._client: Client | None = None
        self._session: AsyncClientSession | None = None
        self._connecting = asyncio.Lock()
        self._ahead: tuple[ChangesQuery, asyncio.Task[ChangePage]] | None = None
        self._pushes = 0

    @property
    def name(self) -> str:
        """The model's name (as a ``LocalModel`` has one)."""
        return self.model

    @property
    def pushing(self) -> bool:
        """Whether a ``bulk_update`` is under way (the target may be applying it)."""
        return self._pushes > 0

    def __repr__(self) -> str:
        return f"RemoteModel({self.url!r}, {self.model!r})"

    # -- connection -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    async def _open(self) -> AsyncClientSession:
        async with self._connecting:
            if self._session is None:
                transport = HTTPXAsyncTransport(
                    url=self.url,
                    headers=self._headers(),
                    timeout=self.timeout,
                    json_deserialize=orjson.loads,
                )
                self._client = Client(transport=transport, execute_timeout=self.timeout)
                self._session = await self._client.connect_async()  # type: ignore[no-untyped-call]
            return self._session

    async def close(self) -> None:
        """Close the connection (and drop a page read ahead); the next request opens one."""
        if self._ahead is not None:
            self._ahead[1].cancel()
            self._ahead = None
        client, self._client, self._session = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close_async()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> RemoteModel:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _execute(self, what: str, request: GraphQLRequest, **variables: Any) -> Any:
        """The ``data`` of ``request`` with ``variables`` (and this model), retried as
        ``self.retry`` says."""
        variables.setdefault("model", self.model)
        bound = GraphQLRequest(request, variable_values=variables)
        body = {"json": None, "content": orjson.dumps(bound.payload), "headers": _JSON_CONTENT}

        async def once() -> Any:
            session = await self._open()
            with mapped(what, self.url):
                return await session.execute(bound, extra_args=body)

        return await self.retry.call(once)

    # -- the Endpoint operations ------------------------------------------------------------

    async def checkpoint(self) -> str:
        """The model's latest checkpoint on the server."""
        data = await self._execute("checkpoint", CHECKPOINT)
        checkpoint: str = data["checkpoint"]
        return checkpoint

    async def read_changes(self, query: ChangesQuery) -> ChangePage:
        """The ``changes`` query (see ``ChangesQuery``)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == query:
            page = await ahead[1]
        else:
            if ahead is not None:
                ahead[1].cancel()
            page = await self._changes(query)
        if page.has_more and self.read_ahead:
            # Read the next page while the caller works on this one (replicate() sends it
            # to the target): the two servers then work at the same time.
            following = dataclasses.replace(query, since=page.checkpoint)
            task = asyncio.create_task(self._changes(following))
            task.add_done_callback(_retrieve)
            self._ahead = (following, task)
        return page

    async def _changes(self, query: ChangesQuery) -> ChangePage:
        data = await self._execute(
            "changes",
            CHANGES,
            since=query.since,
            where=query.where,
            limit=query.limit,
            until=query.until,
        )
        page = data["changes"]
        return ChangePage(
            [change_of(c) for c in page["changes"]], page["checkpoint"], page["hasMore"]
        )

    async def bulk_update(self, updates: Sequence[Update]) -> BulkUpdateResult:
        """Send ``updates`` in requests of at most ``push_size``; one result for all."""
        results: list[UpdateResult] = []
        conflicts: list[Conflict] = []
        checkpoint = ""
        request = BULK_UPDATE[self.full_results]
        self._pushes += 1
        try:
            for start in range(0, len(updates), self.push_size):
                chunk = [update_input(u) for u in updates[start : start + self.push_size]]
                data = (await self._execute("bulkUpdate", request, updates=chunk))["bulkUpdate"]
                results += [update_result_of(r) for r in data["results"]]
                conflicts += [conflict_of(c) for c in data["conflicts"]]
                checkpoint = data["checkpoint"]
            if not checkpoint:
                checkpoint = await self.checkpoint()
        finally:
            self._pushes -= 1
        return BulkUpdateResult(results, conflicts, checkpoint)

    # -- the rest of the API --------------------------------------------------------------

    async def diff(self, since: str | None, changes: Sequence[ChangeInput]) -> Diff:
        """Which of ``changes`` are deltas and which conflict with the server's changes
        after ``since``: the ``diff`` mutation."""
        inputs = [
            without_nulls(
                {
                    "modelId": c.model_id,
                    "type": c.type.value,
                    "rev": c.rev,
                    "prev": c.prev,
                    "revs": list(c.revs) if c.revs else None,
                }
            )
            for c in changes
        ]
        data = (await self._execute("diff", DIFF, since=since, changes=inputs))["diff"]
        return Diff(
            [change_of(c) for c in data["deltas"]], [conflict_of(c) for c in data["conflicts"]]
        )

    async def conflicts(self) -> list[Conflict]:
        """The conflicts recorded on the server and not yet resolved."""
        data = await self._execute("conflicts", CONFLICTS)
        return [conflict_of(c) for c in data["conflicts"]]

    async def resolve_conflict(
        self, model_id: str, using: Resolution, data: Any = None
    ) -> Document | None:
        """Resolve the conflict of ``model_id`` ``using`` one side (or ``data``, for
        ``MANUAL``); returns the document kept."""
        result = await self._execute(
            "resolveConflict", RESOLVE, modelId=model_id, using=using.value, data=data
        )
        document: Document | None = result["resolveConflict"]
        return document

    async def feed(
        self,
        since: str | None = None,
        where: Any = None,
        *,
        on_connect: Callable[[], None] | None = None,
    ) -> AsyncIterator[Change]:
        """The ``changeFeed`` subscription: every change after ``since`` (none when it is
        None), then live ones, each with its checkpoint. Ends when the server completes the
        subscription (it does when it shuts down); a lost connection raises
        ``TransientError``. Not retried here: whoever reconnects knows which checkpoint it
        has applied. ``on_connect`` is called once the server has accepted the connection."""
        transport = WebsocketsTransport(
            url=self.ws_url,
            init_payload=self._headers(),
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            connect_timeout=self.timeout,
            ack_timeout=self.timeout,
            close_timeout=5,
            # A silently dropped connection is noticed within 20 s.
            ping_interval=10,
            pong_timeout=10,
        )
        client = Client(transport=transport)
        request = GraphQLRequest(
            FEED, variable_values={"model": self.model, "since": since, "where": where}
        )
        try:
            with mapped("changeFeed", self.ws_url):
                session = await client.connect_async()  # type: ignore[no-untyped-call]
            if on_connect is not None:
                on_connect()
            events = session.subscribe(request)
            try:
                while True:
                    with mapped("changeFeed", self.ws_url):
                        try:
                            data = await events.__anext__()
                        except StopAsyncIteration:
                            return
                    yield change_of(data["changeFeed"])
            finally:
                with contextlib.suppress(Exception):
                    await events.aclose()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close_async(), 5)  # type: ignore[no-untyped-call]


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Marks a read-ahead's failure as seen: it is raised again if the page is asked for."""
    if not task.cancelled():
        task.exception()
