"""Failures of requests to a remote server: the client's and the network's errors become
the ``RemoteError`` tree of ``graphql_repl.errors`` in one place (``mapped``), and
``Retry`` retries the transient ones with exponential backoff and jitter.

``TransientError`` (connection refused or reset, timeout, HTTP 5xx, a server error) may
succeed later; ``PermanentError`` (authentication, permission, bad input, unknown model)
and ``ResyncRequired`` (the server cannot continue from the checkpoint it was given) are
raised at once.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
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

log = logging.getLogger(__name__)

T = TypeVar("T")

PERMANENT_CODES = {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND"}
# WebSocket close codes of a refused connection_init (graphql-transport-ws).
_WS_REFUSED = {4401: "UNAUTHENTICATED", 4403: "FORBIDDEN"}


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


@contextlib.contextmanager
def mapped(what: str, url: str) -> Iterator[None]:
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
