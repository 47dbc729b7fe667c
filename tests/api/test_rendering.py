"""Lists of flat objects completed in one pass (api/rendering.py) are a second
implementation of graphql-core's completion: for the same documents and the same query,
the schema answers exactly what it answers with plain execution (Strawberry's executor
without ``FlatLists``), whatever fields are picked, aliased, repeated or typenamed, on
``changes``, ``pullNote``, typed reads, ``conflicts`` and ``bulkUpdate`` results; errors
included (a non-null field that resolves to null)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.http import process_result

from graphql_repl import Repository, Settings, demo_registry
from graphql_repl.api import Context, build_schema
from graphql_repl.api.context import authenticator_for
from graphql_repl.api.fanout import SharedEventExecutor, SharedEvents
from graphql_repl.api.rendering import FlatLists
from graphql_repl.auth import create_token

SCHEMA = build_schema(demo_registry())
PLAIN = copy.copy(SCHEMA)
PLAIN.execution_context_class = SharedEventExecutor

CHANGE_FIELDS = ["model", "modelId", "type", "rev", "prev", "checkpoint", "data", "clock"]
CHANGE_FIELDS += ["revs", "__typename", "kind: type", "id: modelId", "modelId"]
NOTE_FIELDS = ["id", "title", "body", "tags", "views", "tenantId", "_deleted", "_rev"]
NOTE_FIELDS += ["__typename", "name: title", "title"]
RESULT_FIELDS = ["modelId", "status", "rev", "data", "error", "__typename", "s: status"]
CONFLICT_FIELDS = ["model", "modelId", "sourceRev", "targetRev", "sourceData", "targetData"]
CONFLICT_FIELDS += ["fields", "__typename"]

words = st.sampled_from(["a", "b", "é ü", 'quote"d', "", "\u2028"])
notes = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "title": st.none() | words,
            "body": words,
            "views": st.integers(-(2**31), 2**31 - 1),
            "tags": st.lists(words, max_size=3),
        },
    ),
    min_size=1,
    max_size=6,
)


def picks(fields: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(fields), min_size=1, max_size=6).map(" ".join)


@st.composite
def queries(draw: st.DrawFn) -> str:
    change, note = draw(picks(CHANGE_FIELDS)), draw(picks(NOTE_FIELDS))
    conflict = draw(picks(CONFLICT_FIELDS))
    directive = draw(st.sampled_from(["", " @include(if: true)", " @skip(if: false)"]))
    return (
        "query { "
        f'changes(model: "Note") {{ changes{directive} {{ {change} }} checkpoint hasMore }} '
        f"pullNote(limit: 50) {{ documents {{ {note} }} checkpoint {{ seq }} }} "
        f"notes(limit: 50) {{ {note} }} "
        f'again: changes(model: "Note") {{ changes {{ ... on Change {{ {change} }} }} }} '
        f'conflicts(model: "User") {{ {conflict} }} '
        "}"
    )


BULK = 'mutation($u: [UpdateInput!]!) { bulkUpdate(model: "Note", updates: $u) { results { %s } } }'


async def answers(
    directory: Path, documents: list[dict[str, Any]], query: str, results: str
) -> list[Any]:
    """The bulkUpdate of ``documents`` on a store of each executor's, then ``query`` on
    the first store by both."""
    updates = [
        {"modelId": f"n{i}", "type": "CREATE", "data": {"id": f"n{i}", **d}}
        for i, d in enumerate(documents)
    ]
    answered = []
    async with contextlib.AsyncExitStack() as stack:
        executes = []
        for name in ("fast", "plain"):
            settings = Settings(store=f"sqlite:///{directory / name}.db")
            repository = await stack.enter_async_context(
                Repository.from_settings(settings, demo_registry())
            )
            authenticator = authenticator_for(repository)
            token = await create_token(repository.tokens, "admin")
            principal = await authenticator.authenticate(token)
            executes.append(functools.partial(_execute, repository, authenticator, principal))
        fast, plain = executes
        answered.append(await fast(SCHEMA, BULK % results, {"u": updates}))
        answered.append(await plain(PLAIN, BULK % results, {"u": updates}))
        answered.append(await fast(SCHEMA, query))
        answered.append(await fast(PLAIN, query))
    return answered


async def _execute(
    repository: Repository,
    authenticator: Any,
    principal: Any,
    schema: strawberry.Schema,
    text: str,
    variables: dict[str, Any] | None = None,
) -> Any:
    context = Context(repository, SharedEvents(), authenticator, principal)
    result = await schema.execute(text, variables, context_value=context)
    return json.loads(json.dumps(process_result(result)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes, queries(), picks(RESULT_FIELDS))
def test_flat_lists_answer_as_plain_execution(
    documents: list[dict[str, Any]], query: str, results: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        fast_bulk, plain_bulk, fast, plain = asyncio.run(
            answers(Path(directory), documents, query, results)
        )
    assert fast_bulk == plain_bulk
    assert "errors" not in fast_bulk, fast_bulk
    assert fast == plain
    assert "errors" not in fast, fast


@strawberry.type
class Item:
    name: str
    tags: list[str]


@strawberry.type
class Broken:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", tags=["x"]), Item(name=None, tags=["y"])]  # type: ignore[arg-type]

    @strawberry.field
    def tagged(self) -> list[Item]:
        return [Item(name="a", tags=None)]  # type: ignore[arg-type]


def test_a_null_in_a_non_null_field_is_the_same_error() -> None:
    """An item the one pass cannot complete goes through graphql-core, which reports it."""
    fast = strawberry.Schema(Broken, execution_context_class=FlatLists)
    plain = strawberry.Schema(Broken, execution_context_class=SharedEventExecutor)
    for query in ("{ items { name tags } }", "{ tagged { name tags } }", "{ items { tags } }"):
        one, other = fast.execute_sync(query), plain.execute_sync(query)
        assert one.errors or query == "{ items { tags } }"
        assert (one.data, [e.formatted for e in one.errors or []]) == (
            other.data,
            [e.formatted for e in other.errors or []],
        ), query
