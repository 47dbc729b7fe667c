"""A model on a remote graphql_repl server, over GraphQL: the other kind of replication end.

``RemoteModel`` offers the operations ``replicate()`` uses (``checkpoint``, ``changes``,
``bulk_update``: the ``Endpoint`` protocol), plus ``diff``, ``conflicts``,
``resolve_conflict`` and ``feed`` (the ``changeFeed`` subscription), and converts to and from
the replication layer's dataclasses. Requests go through the ``gql`` client: HTTP with its
HTTPX transport, the feed over WebSocket (graphql-transport-ws).

Failures become the ``RemoteError`` tree of ``graphql_repl.errors`` in one place
(``_mapped``): ``TransientError`` (connection refused or reset, timeout, HTTP 5xx, a server
error) is retried with exponential backoff and jitter, as ``Retry`` says; ``PermanentError``
(authentication, permission, bad input, unknown model) and ``ResyncRequired`` (the server
cannot continue from the checkpoint it was given) are raised at once.

    async with RemoteModel("http://127.0.0.1:8000", "Note", token) as notes:
        page = await notes.changes(since=None, limit=100)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_random,
)
from websockets.exceptions import ConnectionClosed

from ..errors import PermanentError, RemoteError, ResyncRequired, TransientError
from ..models import Document
from ..replication.types import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BulkUpdateResult,
    Change,
    ChangeInput,
    ChangePage,
    ChangeType,
    Conflict,
    Diff,
    Resolution,
    Update,
    UpdateResult,
    UpdateStatus,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_CHANGE = "model modelId type rev prev checkpoint data clock revs"
_CONFLICT = "model modelId sourceRev targetRev sourceData targetData fields"
CHECKPOINT = GraphQLRequest("query Checkpoint($model: String!) { checkpoint(model: $model) }")
CHANGES = GraphQLRequest(f"""
query Changes($model: String!, $since: Checkpoint, $where: JSON, $limit: Int, $until: Checkpoint) {{
  changes(model: $model, since: $since, where: $where, limit: $limit, until: $until) {{
    changes {{ {_CHANGE} }} checkpoint hasMore
  }}
}}""")
CONFLICTS = GraphQLRequest(
    f"query Conflicts($model: String!) {{ conflicts(model: $model) {{ {_CONFLICT} }} }}"
)
DIFF = GraphQLRequest(f"""
mutation Diff($model: String!, $since: Checkpoint, $changes: [ChangeInput!]!) {{
  diff(model: $model, since: $since, changes: $changes) {{
    deltas {{ {_CHANGE} }} conflicts {{ {_CONFLICT} }}
  }}
}}""")


def _bulk_update(results: str) -> GraphQLRequest:
    return GraphQLRequest(f"""
mutation BulkUpdate($model: String!, $updates: [UpdateInput!]!) {{
  bulkUpdate(model: $model, updates: $updates) {{
    results {{ {results} }} conflicts {{ {_CONFLICT} }} checkpoint
  }}
}}""")


BULK_UPDATE = {
    True: _bulk_update("modelId status rev data error"),
    False: _bulk_update("modelId status error"),
}
RESOLVE = GraphQLRequest("""
mutation Resolve($model: String!, $modelId: ID!, $using: Resolution!, $data: JSON) {
  resolveConflict(model: $model, modelId: $modelId, using: $using, data: $data)
}""")
FEED = GraphQLRequest(f"""
subscription Feed($model: String!, $since: Checkpoint, $where: JSON) {{
  changeFeed(model: $model, since: $since, where: $where) {{ {_CHANGE} }}
}}""")

# Request bodies are encoded by orjson: several times faster than the json module on the
# documents a bulkUpdate carries. gql's HTTPX transport would hand its payload to httpx as
# ``json=`` (its ``json_serialize`` serves only logs and file uploads); its ``extra_args``
# (the arguments it passes on to httpx's ``post``) replace that with orjson's bytes.
# tests/remote/test_client.py::test_request_bodies_are_encoded_by_orjson checks the bytes.
_JSON_CONTENT = {"Content-Type": "application/json"}

PERMANENT_CODES = {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND"}
# WebSocket close codes of a refused connection_init (graphql-transport-ws).
_WS_REFUSED = {4401: "UNAUTHENTICATED", 4403: "FORBIDDEN"}


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


@dataclass(frozen=True, slots=True)
class Retry:
    """How requests that failed transiently are retried: after ``initial`` seconds, then
    twice as long each time up to ``maximum`` seconds, each pause plus up to ``initial``
    seconds of random jitter (so clients do not retry in step); ``attempts`` tries in all,
    the first included (0: no limit)."""

    attempts: int = 8
    initial: float = 0.5
    maximum: float = 10.0

    def retrying(self) -> AsyncRetrying:
        """A tenacity retrier on this schedule, logging each retry as a warning."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            limit = f" of {self.attempts}" if self.attempts else ""
            log.warning(
                "%s; retrying in %.1f s (attempt %d%s failed)",
                error,
                delay,
                state.attempt_number,
                limit,
            )

        return AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential(multiplier=self.initial, max=self.maximum)
            + wait_random(0, self.initial),
            stop=stop_after_attempt(self.attempts) if self.attempts else stop_never,
            before_sleep=before_sleep,
            reraise=True,
        )

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1, 2, ...): the schedule
        ``retrying`` follows, for loops that count their attempts themselves."""
        pause: float = min(self.initial * 2 ** (attempt - 1), self.maximum)
        return pause + random.uniform(0, self.initial)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn()``, retried on ``TransientError``; the last one is raised with
        ``attempts`` set when the retries are exhausted."""
        retrying = self.retrying()
        try:
            return await retrying(fn)
        except TransientError as exc:
            exc.attempts = int(retrying.statistics.get("attempt_number", 1))
            raise


NO_RETRY = Retry(attempts=1)


class RemoteModel:
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
        self._ahead: tuple[tuple[Any, ...], asyncio.Task[ChangePage]] | None = None
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
            with _mapped(what, self.url):
                return await session.execute(bound, extra_args=body)

        return await self.retry.call(once)

    # -- the Endpoint operations ------------------------------------------------------------

    async def checkpoint(self) -> str:
        """The model's latest checkpoint on the server."""
        data = await self._execute("checkpoint", CHECKPOINT)
        checkpoint: str = data["checkpoint"]
        return checkpoint

    async def changes(
        self,
        since: str | None = None,
        where: Any = None,
        limit: int = DEFAULT_PAGE_SIZE,
        until: str | None = None,
    ) -> ChangePage:
        """A page of at most ``limit`` changes after ``since`` (up to ``until``) matching
        ``where``: the ``changes`` query."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == (since, where, limit, until):
            page = await ahead[1]
        else:
            if ahead is not None:
                ahead[1].cancel()
            page = await self._changes(since, where, limit, until)
        if page.has_more and self.read_ahead:
            # Read the next page while the caller works on this one (replicate() sends it
            # to the target): the two servers then work at the same time.
            key = (page.checkpoint, where, limit, until)
            task = asyncio.create_task(self._changes(*key))
            task.add_done_callback(_retrieve)
            self._ahead = (key, task)
        return page

    async def _changes(
        self, since: str | None, where: Any, limit: int, until: str | None
    ) -> ChangePage:
        data = await self._execute(
            "changes", CHANGES, since=since, where=where, limit=limit, until=until
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
            _without_nulls(
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
            with _mapped("changeFeed", self.ws_url):
                session = await client.connect_async()  # type: ignore[no-untyped-call]
            if on_connect is not None:
                on_connect()
            events = session.subscribe(request)
            try:
                while True:
                    with _mapped("changeFeed", self.ws_url):
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


# -- conversions ------------------------------------------------------------------------------


def change_of(c: dict[str, Any]) -> Change:
    """A ``Change`` from its GraphQL shape."""
    return Change(
        c["model"],
        c["modelId"],
        ChangeType(c["type"]),
        c.get("rev"),
        c.get("prev"),
        c.get("checkpoint"),
        c.get("data"),
        c.get("clock") or {},
        c.get("revs") or [],
    )


def update_input(u: Update) -> dict[str, Any]:
    """The ``UpdateInput`` that sends ``u``."""
    return _without_nulls(
        {
            "modelId": u.model_id,
            "type": u.type.value,
            "data": u.data,
            # ``rev`` is left out: the receiver works it out from ``data`` (CONTRACT §2).
            "prev": u.prev,
            "clock": u.clock or None,
            "revs": list(u.revs) if u.revs else None,
        }
    )


def update_result_of(r: dict[str, Any]) -> UpdateResult:
    """An ``UpdateResult`` from its GraphQL shape."""
    return UpdateResult(
        r["modelId"], UpdateStatus(r["status"]), r.get("rev"), r.get("data"), r.get("error")
    )


def conflict_of(c: dict[str, Any]) -> Conflict:
    """A ``Conflict`` from its GraphQL shape."""
    return Conflict(
        c["model"],
        c["modelId"],
        c.get("sourceRev"),
        c.get("targetRev"),
        c.get("sourceData"),
        c.get("targetData"),
        list(c.get("fields") or []),
    )


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Marks a read-ahead's failure as seen: it is raised again if the page is asked for."""
    if not task.cancelled():
        task.exception()


def _without_nulls(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# -- error mapping ----------------------------------------------------------------------------


@contextlib.contextmanager
def _mapped(what: str, url: str) -> Iterator[None]:
    """The one place where the client's and the network's errors become ours."""
    try:
        yield
    except TransportQueryError as exc:
        raise _from_graphql_errors(what, url, exc.errors or [], str(exc)) from exc
    except TransportServerError as exc:
        status = exc.code or 0
        detail = f"{what} on {url}: HTTP {status or '?'} ({_first_line(str(exc))})"
        if status >= 500 or status in (408, 429) or not status:
            raise TransientError(detail, url) from exc
        code = {401: "UNAUTHENTICATED", 403: "FORBIDDEN"}.get(status, "BAD_USER_INPUT")
        raise PermanentError(detail, url, code) from exc
    except TransportProtocolError as exc:
        raise PermanentError(
            f"{what} on {url}: not a GraphQL answer; is this a graphql-repl server? "
            f"({_first_line(str(exc))[:200]})",
            url,
        ) from exc
    except (TransportConnectionFailed, TransportClosed) as exc:
        raise _from_connection(what, url, exc) from exc
    except (OSError, TimeoutError, httpx.HTTPError, ConnectionClosed) as exc:
        raise _from_connection(what, url, exc) from exc
    except TransportError as exc:
        raise TransientError(f"{what} on {url}: {_first_line(str(exc))}", url) from exc


def _from_graphql_errors(what: str, url: str, errors: list[Any], fallback: str) -> RemoteError:
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    extensions = first.get("extensions") or {}
    code = str(extensions.get("code") or "INTERNAL_SERVER_ERROR")
    message = f"{what} on {url}: {first.get('message') or fallback} ({code})"
    if extensions.get("resync"):
        return ResyncRequired(message, url)
    if code in PERMANENT_CODES:
        return PermanentError(message, url, code)
    return TransientError(message, url, code)


def _from_connection(what: str, url: str, exc: BaseException) -> RemoteError:
    """A connection that failed or was lost; refused WebSocket handshakes are permanent."""
    for cause in _chain(exc):
        if isinstance(cause, ConnectionClosed) and cause.rcvd is not None:
            code = _WS_REFUSED.get(cause.rcvd.code)
            if code is not None:
                reason = cause.rcvd.reason or "refused"
                return PermanentError(f"{what} on {url}: {reason} ({code})", url, code)
    return TransientError(f"{what} on {url}: {_describe(exc)}", url)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _describe(exc: BaseException) -> str:
    """The most telling words about a failed connection, from the innermost cause out."""
    for cause in reversed(list(_chain(exc))):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, TimeoutError | httpx.TimeoutException):
            return "timed out"
        if isinstance(cause, ConnectionClosed):
            return "connection closed"
    for cause in _chain(exc):
        text = _first_line(str(cause))
        if text:
            lowered = text.lower()
            if "refused" in lowered or "all connection attempts failed" in lowered:
                return "connection refused"
            return text
    return type(exc).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
