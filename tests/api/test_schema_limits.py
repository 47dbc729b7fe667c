"""Limits on the query itself (issue: security), on the schema in process (in_process.py):
nesting depth, aliases, tokens, batch and page sizes. Each limit is exceeded: the answer is
BAD_USER_INPUT; just under it, the query is served. Limits on the request (body size) and
CORS are the transport's, in test_limits.py."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from .helpers import SMALL_LIMITS, notes_for_bulk, uid
from .in_process import LocalServer, LocalServers


@pytest.fixture
async def small_depth(local_servers: LocalServers) -> LocalServer:
    """A schema admitting one level of fields below the root field (the contract's
    queries need two)."""
    return await local_servers.start({"GRAPHQL_REPL_MAX_DEPTH": "1"})


@pytest.fixture
async def small(local_servers: LocalServers) -> LocalServer:
    """A schema with small limits, so that each can be crossed cheaply."""
    return await local_servers.start(SMALL_LIMITS)


async def test_depth_limit(small_depth: LocalServer) -> None:
    api = await small_depth.api("admin")
    three = 'mutation { bulkUpdate(model: "Note", updates: []) { conflicts { fields } } }'
    two = 'mutation { bulkUpdate(model: "Note", updates: []) { checkpoint } }'
    assert await api.code(three) == "BAD_USER_INPUT"
    assert (await api.data(two))["bulkUpdate"]["checkpoint"]


async def test_cyclic_introspection_is_bounded(local: LocalServer) -> None:
    inner = "name"
    for _ in range(4):
        inner = f"fields {{ type {{ ofType {{ ofType {{ {inner} }} }} }} }}"
    api = await local.api("reader")
    assert await api.code(f"{{ __schema {{ types {{ {inner} }} }} }}") == "BAD_USER_INPUT"


async def test_default_depth_admits_the_standard_introspection_query(local: LocalServer) -> None:
    schema = (await (await local.api("reader")).data(get_introspection_query()))["__schema"]
    assert {"Query", "Mutation", "Subscription"} <= {t["name"] for t in schema["types"]}


async def test_alias_limit(small: LocalServer) -> None:
    api = await small.api("admin")
    four = " ".join(f'a{i}: checkpoint(model: "Note")' for i in range(4))
    five = four + ' a4: checkpoint(model: "Note")'
    assert len(await api.data(f"{{ {four} }}")) == 4
    assert await api.code(f"{{ {five} }}") == "BAD_USER_INPUT"


async def test_token_limit(small: LocalServer) -> None:
    api = await small.api("admin")
    fields = " ".join("__typename" for _ in range(400))
    assert await api.code(f"{{ {fields} }}") == "BAD_USER_INPUT"


async def test_batch_limit_on_bulk_update_and_diff(small: LocalServer) -> None:
    api = await small.api("admin")
    ids = [uid() for _ in range(11)]
    bulk = (
        'mutation B($u: [UpdateInput!]!) { bulkUpdate(model: "Note", updates: $u) { checkpoint } }'
    )
    assert await api.code(bulk, {"u": notes_for_bulk(ids)}) == "BAD_USER_INPUT"
    assert (await api.data(bulk, {"u": notes_for_bulk(ids[:10])}))["bulkUpdate"]["checkpoint"]
    diff = """mutation D($c: [ChangeInput!]!) {
        diff(model: "Note", changes: $c) { deltas { modelId } }
    }"""
    changes = [{"modelId": i, "type": "CREATE", "rev": "r"} for i in ids]
    assert await api.code(diff, {"c": changes}) == "BAD_USER_INPUT"
    assert await api.data(diff, {"c": changes[:10]})


async def test_page_limit_is_the_contracts(local: LocalServer) -> None:
    api = await local.api("admin")
    for limit in (0, 5001):
        query = f'{{ changes(model: "Note", limit: {limit}) {{ hasMore }} }}'
        assert await api.code(query) == "BAD_USER_INPUT"


async def test_a_document_sent_again_is_not_validated_again(small: LocalServer) -> None:
    """The size limits' rules are the same from one request to the next, so ValidationCache
    (keyed by the document and the rules) answers for a document it has validated; the
    limits still hold for a new document."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    api = await small.api("admin")
    query = 'query { checkpoint(model: "Note") }'
    await api.data(query)
    cache = _get_validate_cache(256)
    before = cache.cache_info()
    for _ in range(3):
        await api.data(query)
    after = cache.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (3, 0)
    aliases = " ".join(f'a{i}: checkpoint(model: "Note")' for i in range(20))
    assert await api.code(f"query {{ {aliases} }}") == "BAD_USER_INPUT"
