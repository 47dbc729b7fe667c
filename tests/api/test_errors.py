"""Error codes with bad inputs and bad credentials (CONTRACT §6), over real HTTP; afterwards
the server is still healthy and answers normal queries. The API's other answers to bad
input are checked on the schema in process (test_schema_errors.py)."""

from __future__ import annotations

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError

from .helpers import HTTP_TIMEOUT, Api, Feed, auth_headers, notes_for_bulk, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

FIVE_MB = 5 * 1024 * 1024

# (name, query, variables): each must fail with BAD_USER_INPUT for an admin. These go over
# real HTTP: a request error, a resolver's error, and bodies of megabytes; every other bad
# input is checked on the schema in process (test_schema_errors.py).
BAD_INPUT = [
    ("syntax error", '{ checkpoint(model: "Note" }', None),
    ("unknown model (changes)", '{ changes(model: "NoSuchModel") { hasMore } }', None),
    (
        "too many updates",
        'mutation($u: [UpdateInput!]!) { bulkUpdate(model: "Note", updates: $u) { checkpoint } }',
        {"u": notes_for_bulk([f"huge-{i}" for i in range(6000)])},
    ),
    (
        "5 MB checkpoint",
        'query($s: Checkpoint) { changes(model: "Note", since: $s) { hasMore } }',
        {"s": "x" * FIVE_MB},
    ),
    ("5 MB garbage query", "{" + "x" * FIVE_MB + "}", None),
]


@pytest.mark.parametrize(
    ("query", "variables"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
async def test_bad_input_is_bad_user_input(server, tokens, query, variables):
    assert await Api(server, tokens["admin"]).code(query, variables) == "BAD_USER_INPUT"


async def test_bad_checkpoint_on_the_change_feed_is_bad_user_input(server, tokens):
    async with Feed(server, tokens["admin"], since="garbage") as feed:
        with pytest.raises(TransportQueryError) as raised:
            await feed.next()
    errors = raised.value.errors
    assert errors, f"expected GraphQL errors, got {raised.value!r}"
    assert [(e.get("extensions") or {}).get("code") for e in errors] == ["BAD_USER_INPUT"]


async def test_five_megabyte_string_is_stored_intact_or_refused(server, tokens):
    """No documented size limit: a 5 MB field is either refused as BAD_USER_INPUT or
    stored and read back intact — never a crash or a silent truncation."""
    api = Api(server, tokens["admin"])
    note_id = uid("big-")
    body = "é" + "x" * FIVE_MB + "ü"
    response = await api.post(
        "mutation($d: NoteInput!) { createNote(data: $d) { id } }",
        {"d": {"id": note_id, "body": body}},
    )
    if response.get("errors"):
        assert [e["extensions"]["code"] for e in response["errors"]] == ["BAD_USER_INPUT"]
        assert (await api.data("query($id: ID!) { note(id: $id) { id } }", {"id": note_id}))[
            "note"
        ] is None
    else:
        assert response["data"]["createNote"]["id"] == note_id
        got = await api.data("query($id: ID!) { note(id: $id) { body } }", {"id": note_id})
        assert got["note"]["body"] == body


# -- authentication and authorization ------------------------------------------------------


async def test_missing_token_is_unauthenticated(server):
    assert await Api(server, None).code('{ checkpoint(model: "Note") }') == "UNAUTHENTICATED"
    assert await Api(server, None).code("{ notes { id } }") == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "token",
    ["grepl_000000000000_not-a-real-secret", "garbage", "grepl_x"],
    ids=["well-formed unknown", "garbage", "truncated"],
)
async def test_unknown_token_is_unauthenticated(server, token):
    api = Api(server, token)
    assert await api.code('{ checkpoint(model: "Note") }') == "UNAUTHENTICATED"


async def test_known_token_id_with_wrong_secret_is_unauthenticated(server, tokens):
    prefix, token_id, _secret = tokens["admin"].split("_", 2)
    forged = f"{prefix}_{token_id}_wrong-secret"
    assert await Api(server, forged).code('{ checkpoint(model: "Note") }') == "UNAUTHENTICATED"


@pytest.mark.parametrize("scheme", ["Basic {}", "Token {}", "{}", "Bearer"])
async def test_malformed_authorization_is_unauthenticated(server, tokens, scheme):
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(
            server.url,
            json={"query": '{ checkpoint(model: "Note") }'},
            headers={"Authorization": scheme.format(tokens["admin"]).strip()},
        )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("role", "query"),
    [
        ("reader", '{ changes(model: "Note") { hasMore } }'),
        ("writer", '{ changes(model: "Note") { hasMore } }'),
        ("replicator", '{ changes(model: "FinancialRecord") { hasMore } }'),
        ("replicator", "{ financialRecords { id } }"),
        ("reader", 'mutation { createNote(data: {title: "x"}) { id } }'),
    ],
)
async def test_known_token_without_permission_is_forbidden(server, tokens, role, query):
    assert await Api(server, tokens[role]).code(query) == "FORBIDDEN"


async def test_forbidden_does_not_leak_whether_a_document_exists(server, tokens):
    admin = Api(server, tokens["admin"])
    record = uid("fr-")
    await admin.data(
        "mutation($d: FinancialRecordInput!) { createFinancialRecord(data: $d) { id } }",
        {"d": {"id": record, "account": "a", "amount": 1.0, "currency": "EUR"}},
    )
    replicator = Api(server, tokens["replicator"])
    existing = await replicator.errors(
        "query($id: ID!) { financialRecord(id: $id) { id } }", {"id": record}
    )
    missing = await replicator.errors(
        "query($id: ID!) { financialRecord(id: $id) { id } }", {"id": uid("none-")}
    )
    assert [e["extensions"]["code"] for e in existing] == ["FORBIDDEN"]
    assert [(e["message"], e["extensions"]) for e in existing] == [
        (e["message"], e["extensions"]) for e in missing
    ]


# -- the server survives all of it ----------------------------------------------------------


async def test_server_still_healthy_after_bad_input(server, tokens):
    tracebacks_before = server.log_text().count("Traceback")
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        # Garbage that is not even GraphQL over HTTP.
        for body in (b"not json", b"[]", b'{"query": 5}', b"\xff\xfe", b"{" * 100_000):
            response = await client.post(
                server.url,
                content=body,
                headers={"content-type": "application/json", **auth_headers(tokens["admin"])},
            )
            assert response.status_code in (200, 400, 413, 415, 422), response.status_code
        health = await client.get(server.health_url)
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
    api = Api(server, tokens["admin"])
    note = await api.create_note(title="still alive")
    got = await api.data("query($id: ID!) { note(id: $id) { title } }", {"id": note["id"]})
    assert got == {"note": {"title": "still alive"}}
    assert server.alive()
    # Unexpected errors are logged with their tracebacks (api/errors.py): none of this
    # garbage may reach such a path.
    assert server.log_text().count("Traceback") == tracebacks_before
