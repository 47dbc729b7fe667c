"""The API schema executed in this process, Strawberry's own pattern for schema tests
(``schema.execute``): for tests of API logic rather than of the transport (resolver
behaviour, error codes for bad input, limits on arguments and on query size).

Nothing is faked: a real ``Repository`` over a real store (a SQLite file, or a database of
its own on the session's MongoDB), real tokens saved in that store, and each request's
context built as the server builds it (``GraphQLApp.get_context`` in graphql_repl/api/http.py:
the caller's principal from the real ``Authenticator``). Results are shaped by Strawberry's
``process_result``, as its HTTP view shapes them, and passed through JSON: the helpers of
``BaseApi`` see the very bodies an HTTP client decodes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import strawberry
from store_urls import drop_store, new_store_url  # tests/store_urls.py
from strawberry.http import process_result

from graphql_repl.api import Context, build_schema
from graphql_repl.api.context import authenticator_for
from graphql_repl.api.fanout import SharedEvents
from graphql_repl.auth import create_token
from graphql_repl.demo import demo_registry
from graphql_repl.replication import Repository
from graphql_repl.settings import Settings
from graphql_repl.stores import create_store

from .helpers import BaseApi

# Far longer than closing a repository takes (milliseconds).
CLOSE_TIMEOUT = 5.0


@functools.cache
def _schema(limits: tuple[tuple[str, str], ...]) -> strawberry.Schema:
    """The demo models' schema with the limits of these ``GRAPHQL_REPL_*`` variables: built
    once per set of limits (the schema depends on nothing else; a server builds it once)."""
    return build_schema(demo_registry(), Settings.from_env(dict(limits)))


class LocalServer:
    """What a server process holds, in this process: the repository, the schema built for
    its settings, the feed's shared events and the authenticator."""

    def __init__(self, repository: Repository, schema: strawberry.Schema) -> None:
        self.repository = repository
        self.schema = schema
        self.events = SharedEvents()
        self.authenticator = authenticator_for(repository)
        self._tokens: dict[tuple[str, str | None], str] = {}

    async def token(self, role: str, tenant: str | None = None) -> str:
        """A token of ``role`` (bound to ``tenant``) in this store, made once."""
        key = (role, tenant)
        if key not in self._tokens:
            self._tokens[key] = await create_token(self.repository.tokens, role, tenant)
        return self._tokens[key]

    async def api(self, role: str | None, tenant: str | None = None) -> LocalApi:
        """A client sending a token of ``role`` (None: no token)."""
        return LocalApi(self, None if role is None else await self.token(role, tenant))

    async def execute(
        self, query: str, variables: dict[str, Any] | None, token: str | None
    ) -> dict[str, Any]:
        """One request as ``token``'s bearer: the body the HTTP view would send, decoded."""
        principal = None if token is None else await self.authenticator.authenticate(token)
        context = Context(self.repository, self.events, self.authenticator, principal)
        result = await self.schema.execute(query, variable_values=variables, context_value=context)
        body: dict[str, Any] = json.loads(json.dumps(process_result(result)))
        return body


class LocalApi(BaseApi):
    """A client of a ``LocalServer``: the same helpers as the HTTP ``Api``."""

    def __init__(self, server: LocalServer, token: str | None = None) -> None:
        self.server = server
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.server.execute(query, variables, self.token)


class LocalServers:
    """Starts ``LocalServer``s, each on a new store of ``kind`` (SQLite files in
    ``directory``; MongoDB databases at ``mongodb_url()``); ``close`` closes their
    repositories and drops the databases."""

    def __init__(self, kind: str, directory: Path, mongodb_url: Callable[[], str]) -> None:
        self.kind = kind
        self.directory = directory
        self.mongodb_url = mongodb_url
        self.started: list[LocalServer] = []

    async def start(self, env: Mapping[str, str] | None = None) -> LocalServer:
        """A server on a new store, with the settings ``GRAPHQL_REPL_*`` variables ``env``
        give (and nothing from this process's environment, as ``ServerFactory`` does)."""
        mongodb = self.mongodb_url() if self.kind == "mongodb" else None
        url = new_store_url(self.kind, self.directory, f"local{len(self.started)}", mongodb)
        limits = tuple(sorted((env or {}).items()))
        settings = Settings.from_env(dict(limits), store=url)
        repository = await Repository(create_store(url), demo_registry(), settings).open()
        self.started.append(LocalServer(repository, _schema(limits)))
        return self.started[-1]

    async def close(self) -> None:
        for server in self.started:
            started = time.monotonic()
            # MongoStore.close can wait forever on Python 3.11: its sequencer task may
            # swallow the cancellation when it arrives as its idle-poll timeout expires.
            # wait_for's own cancellation, passed on to the sequencer, then ends it.
            await asyncio.wait_for(server.repository.close(), CLOSE_TIMEOUT)
            if time.monotonic() - started >= CLOSE_TIMEOUT:
                warnings.warn(
                    f"closing the repository took over {CLOSE_TIMEOUT} s (its store's close "
                    "hung and was cancelled again)",
                    stacklevel=1,
                )
            await drop_store(server.repository.settings.store)
