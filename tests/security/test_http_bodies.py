"""HTTP request bodies that are not (well-formed) GraphQL requests (CONTRACT §6).

Every answer must be a GraphQL response (JSON, ``errors`` with contract codes; a 4xx status
is fine): no 5xx, no text/plain, no dropped connection, no traceback in the server's log.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from artifacts import write_artifact  # tests/artifacts.py
from hypothesis import given
from hypothesis import strategies as st
from servers import Server, ServerFactory

from .callers import auth
from .checks import BadAnswer, check_http, tracebacks
from .strategies import EXAMPLES, fuzz_settings, json_values

HTTP_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(factory: ServerFactory) -> Server:
    return factory.start()


@pytest.fixture(scope="module")
def counts() -> Iterator[collections.Counter[str]]:
    made: collections.Counter[str] = collections.Counter()
    yield made
    write_artifact("fuzz-counts.json", {"http-bodies": dict(sorted(made.items()))})
    print(f"\nHTTP body cases: {dict(made)}")


def post_raw(
    server: Server, raw: bytes, token: str | None = None, client: httpx.Client | None = None
) -> httpx.Response:
    headers = {"content-type": "application/json", **auth(token)}
    try:
        if client is not None:
            return client.post(server.url, content=raw, headers=headers)
        return httpx.post(server.url, content=raw, headers=headers, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise BadAnswer(f"no answer ({exc!r}) to {raw[:300]!r}") from None


def answer(response: httpx.Response, raw: bytes) -> str:
    """Check an answer; returns its kind."""
    content_type = response.headers.get("content-type", "")
    check_http(response.status_code, content_type, response.content, f"\nbody: {raw[:300]!r}")
    return f"{response.status_code}-graphql"


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


request_like = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(
            st.sampled_from(
                [
                    '{ checkpoint(model: "Note") }',
                    'subscription { changeFeed(model: "Note") { modelId } }',
                    "query A { notes { id } } query B { notes { id } }",
                    "mutation { deleteNote(id: 1) }",
                    "{ __typename }",
                    "{",
                    "",
                ]
            ),
            st.text(max_size=40),
            json_values,
        ),
        "variables": json_values,
        "operationName": st.one_of(st.sampled_from(["A", "B", "C"]), json_values),
        "extensions": json_values,
    },
)
bodies = st.one_of(
    request_like.map(_dumps),
    st.lists(request_like, min_size=1, max_size=3).map(_dumps),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(_dumps),
)


@pytest.mark.parametrize("caller", ["admin", "none"])
def test_fuzz_request_bodies(server: Server, counts: collections.Counter[str], caller: str) -> None:
    """GraphQL-request-like JSON objects (and lists of them) with junk in every member."""
    token = server.token("admin") if caller == "admin" else None

    client = httpx.Client(timeout=HTTP_TIMEOUT)

    @fuzz_settings(EXAMPLES)
    @given(raw=bodies)
    def run(raw: bytes) -> None:
        counts[f"request-bodies/{caller}"] += 1
        kind = answer(post_raw(server, raw, token, client), raw)
        counts[f"answer/{kind}"] += 1

    try:
        run()
    finally:
        client.close()
    assert server.alive(), server.log_text()[-4000:]
    found = tracebacks(server.log_text())
    assert not found, f"{len(found)} tracebacks in the server log; the first:\n{found[0]}"


NOT_GRAPHQL_REQUESTS = [
    b"garbage",
    b"{",
    b"\xff\xfe\x00",
    b"[]",
    b"{}",
    b'{"query": 1}',
    b'{"query": "{ __typename }", "variables": [1]}',
]


@pytest.mark.parametrize("raw", NOT_GRAPHQL_REQUESTS, ids=repr)
def test_a_body_that_is_not_a_request_gets_a_graphql_error(server: Server, raw: bytes) -> None:
    response = post_raw(server, raw, server.token("admin"))
    body: dict[str, Any] = check_http(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture
def spare_server(factory: ServerFactory) -> Iterator[Server]:
    """A server of its own: a traceback in its log is this case's."""
    made = factory.start()
    yield made
    factory.close([made])


@pytest.mark.parametrize("raw", [b"false", b"1", b'"x"', b"null"], ids=repr)
def test_a_json_scalar_body_is_not_a_server_error(spare_server: Server, raw: bytes) -> None:
    response = post_raw(spare_server, raw)
    try:
        assert response.status_code < 500, (response.status_code, response.text[:300])
        answer(response, raw)
        found = tracebacks(spare_server.log_text())
        assert not found, found[0]
    finally:
        assert spare_server.alive()
