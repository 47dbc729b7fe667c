"""Limits on what one request may ask for, and CORS (issue: security), on real servers:
an oversized body gets 413 and BAD_USER_INPUT, never a crash or a hang, and the server goes
on serving. The limits on the query itself (depth, aliases, tokens, batch and page sizes)
are the schema's, checked in process in test_schema_limits.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers import Server, ServerFactory

from .helpers import HTTP_TIMEOUT, SMALL_LIMITS, Api, GraphQLErrors, auth_headers

pytestmark = pytest.mark.usefixtures("check_server_alive")


@pytest.fixture(scope="module")
def small(server_factory: ServerFactory) -> Server:
    """A server with small limits, so that each can be crossed cheaply."""
    return server_factory.start(env=SMALL_LIMITS)


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
    assert response.status_code == 200
    assert "errors" not in response.json()


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
    assert response.status_code == 200
    assert "errors" not in response.json()
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
