"""The feed's fan-out executes each event once per distinct subscription document and
variables, whoever receives it (api/fanout.py). It subclasses Strawberry's execution
context, a private API: these tests fail first if a Strawberry release changes it.

In process (Strawberry's own test pattern): the schema's ``subscribe`` with a real
repository over a SQLite file; the transport is not what is under test here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from graphql_repl import Repository, Settings, demo_registry
from graphql_repl.api import Context, build_schema
from graphql_repl.api.fanout import SharedEvents
from graphql_repl.auth import Authenticator, Principal

FEED = """
subscription Feed($model: String!, $since: Checkpoint, $where: JSON) {
  changeFeed(model: $model, since: $since, where: $where) { modelId type data checkpoint }
}
"""
EVENT_TIMEOUT = 20.0


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[Repository]:
    settings = Settings(store=f"sqlite:///{tmp_path / 'fanout.db'}")
    async with Repository.from_settings(settings, demo_registry()) as repo:
        yield repo


async def _subscribe(
    repository: Repository, events: SharedEvents, variables: dict[str, Any]
) -> AsyncIterator[Any]:
    schema = build_schema(repository.registry, repository.settings)
    # A JWT principal: its token is valid without a store lookup.
    principal = Principal("jwt:fanout", "admin", kind="jwt")
    context = Context(
        repository, events, Authenticator(repository.tokens), principal, connection_params={}
    )
    stream = await schema.subscribe(FEED, variable_values=variables, context_value=context)
    assert not hasattr(stream, "errors"), stream
    return stream


async def _next(stream: AsyncIterator[Any]) -> Any:
    async with asyncio.timeout(EVENT_TIMEOUT):
        return await anext(stream)


async def test_subscribers_of_the_same_document_and_variables_share_one_result(repository):
    events = SharedEvents()
    since = await repository.model("Note").checkpoint()
    same = {"model": "Note", "since": since}
    first = await _subscribe(repository, events, same)
    second = await _subscribe(repository, events, dict(same))
    other = await _subscribe(repository, events, {**same, "where": {"title": "shared"}})
    await repository.model("Note").create({"id": "n1", "title": "shared"})

    a, b, c = await _next(first), await _next(second), await _next(other)

    assert a.errors is None
    assert a.data["changeFeed"]["modelId"] == "n1"
    # Executed once for both subscribers of the same document and variables: the one
    # result's data reaches both; other variables are executed on their own.
    assert b.data is a.data
    assert c.data is not a.data
    assert c.data == a.data
    for stream in (first, second, other):
        await stream.aclose()
