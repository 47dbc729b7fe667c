"""Limits on what one request may ask for, and CORS (issue: security). Each limit is
exceeded on a real server: the answer is BAD_USER_INPUT (413 for an oversized body),
never a crash or a hang, and the server goes on serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from servers import Server, ServerFactory

from .helpers import HTTP_TIMEOUT, Api, GraphQLErrors, auth_headers, notes_for_bulk, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

SMALL = {
    "GRAPHQL_REPL_MAX_BODY_BYTES": "20000",
    "GRAPHQL_REPL_MAX_BATCH": "10",
    "GRAPHQL_REPL_MAX_ALIASES": "4",
    "GRAPHQL_REPL_MAX_TOKENS": "300",
}


@pytest.fixture(scope="module")
def small_depth(server_factory: ServerFactory) -> Server:
    """A server admitting one level of fields below the root field (the contract's
    queries need two)."""
    return server_factory.start(env={"GRAPHQL_REPL_MAX_DEPTH": "1"})


@pytest.fixture(scope="module")
def small(server_factory: ServerFactory) -> Server:
    """A server with small limits, so that each can be crossed cheaply."""
    return server_factory.start(env=SMALL)


def only_code(body: dict[str, Any]) -> str:
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    code: str = errors[0]["extensions"]["code"]
    return code


def post(server: Server, content: Any, token: str | None, **headers: str) -> httpx.Response:
    return httpx.post(
        server.url,
        content=content,
        headers={"content-type": "application/json", **auth_headers(token), **headers},
        timeout=HTTP_TIMEOUT,
    )


def test_oversized_body_gets_413_with_a_graphql_error(small: Server) -> None:
    token = small.token("admin")
    padding = "x" * 30_000
    body = f'{{"query": "{{ notes(limit: 1) {{ id }} }}", "variables": {{"p": "{padding}"}}}}'
    response = post(small, body, token)
    assert response.status_code == 413
    assert only_code(response.json()) == "BAD_USER_INPUT"
    assert "20000 bytes" in response.json()["errors"][0]["message"]


def test_oversized_chunked_body_is_cut_off_without_reading_it_all(small: Server) -> None:
    token = small.token("admin")
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ notes { id } }", "variables": {"p": "'
        for _ in range(1000):  # 1 MB, far past the 20 kB limit
            sent += 1000
            yield b"y" * 1000
        yield b'"}}'

    response = post(small, chunks(), token)
    assert response.status_code == 413
    assert only_code(response.json()) == "BAD_USER_INPUT"


def test_body_under_the_limit_is_served(small: Server) -> None:
    response = post(small, '{"query": "{ notes(limit: 1) { id } }"}', small.token("admin"))
    assert response.status_code == 200 and "errors" not in response.json()


async def test_depth_limit(small_depth: Server) -> None:
    api = Api(small_depth, small_depth.token("admin"))
    three = 'mutation { bulkUpdate(model: "Note", updates: []) { conflicts { fields } } }'
    two = 'mutation { bulkUpdate(model: "Note", updates: []) { checkpoint } }'
    assert await api.code(three) == "BAD_USER_INPUT"
    assert (await api.data(two))["bulkUpdate"]["checkpoint"]


async def test_cyclic_introspection_is_bounded(server: Server) -> None:
    inner = "name"
    for _ in range(4):
        inner = f"fields {{ type {{ ofType {{ ofType {{ {inner} }} }} }} }}"
    api = Api(server, server.token("reader"))
    assert await api.code(f"{{ __schema {{ types {{ {inner} }} }} }}") == "BAD_USER_INPUT"


async def test_default_depth_admits_the_standard_introspection_query(server: Server) -> None:
    schema = (await Api(server, server.token("reader")).data(get_introspection_query()))["__schema"]
    assert {"Query", "Mutation", "Subscription"} <= {t["name"] for t in schema["types"]}


async def test_alias_limit(small: Server) -> None:
    api = Api(small, small.token("admin"))
    four = " ".join(f'a{i}: checkpoint(model: "Note")' for i in range(4))
    five = four + ' a4: checkpoint(model: "Note")'
    assert len(await api.data(f"{{ {four} }}")) == 4
    assert await api.code(f"{{ {five} }}") == "BAD_USER_INPUT"


async def test_token_limit(small: Server) -> None:
    api = Api(small, small.token("admin"))
    fields = " ".join("__typename" for _ in range(400))
    assert await api.code(f"{{ {fields} }}") == "BAD_USER_INPUT"


async def test_batch_limit_on_bulk_update_and_diff(small: Server) -> None:
    api = Api(small, small.token("admin"))
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


async def test_page_limit_is_the_contracts(server: Server) -> None:
    api = Api(server, server.token("admin"))
    for limit in (0, 5001):
        query = f'{{ changes(model: "Note", limit: {limit}) {{ hasMore }} }}'
        assert await api.code(query) == "BAD_USER_INPUT"


async def test_limits_leave_the_server_serving(small: Server) -> None:
    api = Api(small, small.token("admin"))
    note = await api.create_note(title="still here")
    assert (await api.data(f'{{ note(id: "{note["id"]}") {{ title }} }}'))["note"]["title"]


# -- CORS ---------------------------------------------------------------------------------

APP = "http://app.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.fixture(scope="module")
def cors(server_factory: ServerFactory) -> Server:
    return server_factory.start(args=("--cors-origin", APP, "--cors-origin", "http://two.example"))


def test_cors_allows_the_configured_origins(cors: Server) -> None:
    for origin in (APP, "http://two.example"):
        preflight = httpx.options(cors.url, headers={"Origin": origin, **PREFLIGHT})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = post(
        cors, '{"query": "{ notes(limit: 1) { id } }"}', cors.token("reader"), Origin=APP
    )
    assert response.status_code == 200 and "errors" not in response.json()
    assert response.headers["access-control-allow-origin"] == APP


def test_cors_refuses_other_origins(cors: Server) -> None:
    preflight = httpx.options(cors.url, headers={"Origin": "http://evil.example", **PREFLIGHT})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_is_off_by_default(server: Server) -> None:
    preflight = httpx.options(server.url, headers={"Origin": APP, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers
    response = post(server, '{"query": "{ __typename }"}', None, Origin=APP)
    assert "access-control-allow-origin" not in response.headers


async def test_errors_are_graphql_errors(small: Server) -> None:
    with pytest.raises(GraphQLErrors):
        await Api(small, None).data("{ notes { id } }")
