"""The permissions matrix (CONTRACT §4, §5): every role, every operation, on Note and
FinancialRecord, over real HTTP and WebSocket."""

from __future__ import annotations

import pytest
from gql.transport.exceptions import TransportQueryError

from .helpers import PROTOCOLS, Api, Feed, codes, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

ROLE_PERMISSIONS = {
    "reader": {"READ"},
    "writer": {"READ", "WRITE"},
    "replicator": {"READ", "REPLICATE", "WRITE"},
    "admin": {"READ", "REPLICATE", "WRITE"},
}
MODELS = ("Note", "FinancialRecord")
# FinancialRecord narrows every permission to admin (CONTRACT §4).
MODEL_ROLES = {"Note": set(ROLE_PERMISSIONS), "FinancialRecord": {"admin"}}


def _typed(model: str) -> tuple[str, str]:
    """A typed read and a typed write of ``model``."""
    plural = "notes" if model == "Note" else "financialRecords"
    data = '{title: "perm"}' if model == "Note" else '{account: "perm", amount: 1.5}'
    return (
        f"query {{ {plural}(limit: 1) {{ id }} }}",
        f"mutation {{ create{model}(data: {data}) {{ id }} }}",
    )


def operations(model: str) -> dict[str, tuple[str, set[str]]]:
    """Operation name -> (query, permissions it needs) on ``model``."""
    read, write = _typed(model)
    nothing = '{id: "matches-nothing"}'
    return {
        "checkpoint": (f'query {{ checkpoint(model: "{model}") }}', {"REPLICATE"}),
        "changes": (
            f'query {{ changes(model: "{model}", limit: 1) {{ hasMore }} }}',
            {"REPLICATE"},
        ),
        "conflicts": (f'query {{ conflicts(model: "{model}") {{ modelId }} }}', {"REPLICATE"}),
        "diff": (
            f'mutation {{ diff(model: "{model}", changes: []) {{ deltas {{ modelId }} }} }}',
            {"REPLICATE"},
        ),
        "bulkUpdate": (
            f'mutation {{ bulkUpdate(model: "{model}", updates: []) {{ checkpoint }} }}',
            {"WRITE"},
        ),
        "replicate": (
            f'mutation {{ replicate(source: "{model}", target: "{model}", where: {nothing}) '
            "{ updates { modelId } } }",
            {"REPLICATE", "WRITE"},
        ),
        "resolveConflict": (
            f'mutation {{ resolveConflict(model: "{model}", modelId: "no-conflict-here", '
            "using: TARGET) }",
            {"WRITE"},
        ),
        "typed read": (read, {"READ"}),
        "typed write": (write, {"WRITE"}),
    }


def allowed(role: str, model: str, needs: set[str]) -> bool:
    return needs <= ROLE_PERMISSIONS[role] and role in MODEL_ROLES[model]


CASES = [
    (role, model, op) for model in MODELS for role in ROLE_PERMISSIONS for op in operations(model)
]


@pytest.mark.parametrize(
    ("role", "model", "op"), CASES, ids=[f"{r}-{m}-{o.replace(' ', '_')}" for r, m, o in CASES]
)
async def test_http_matrix(server, tokens, role, model, op):
    query, needs = operations(model)[op]
    body = await Api(server, tokens[role]).post(query)
    found = codes(body.get("errors") or [])
    if allowed(role, model, needs):
        # Allowed: it ran (resolveConflict of a conflict that does not exist: NOT_FOUND).
        assert found in ([], ["NOT_FOUND"]), body
        assert body["data"] is not None or found == ["NOT_FOUND"], body
    else:
        assert found == ["FORBIDDEN"], body


@pytest.mark.parametrize("op", list(operations("Note")))
async def test_http_without_token_is_unauthenticated(server, op):
    query, _ = operations("Note")[op]
    body = await Api(server, None).post(query)
    assert codes(body.get("errors") or []) == ["UNAUTHENTICATED"], body


async def test_replicate_needs_replicate_on_source_and_write_on_target(server, tokens):
    def query(source: str, target: str) -> str:
        return (
            f'mutation {{ replicate(source: "{source}", target: "{target}", '
            'where: {id: "matches-nothing"}) { updates { modelId } } }'
        )

    replicator = Api(server, tokens["replicator"])
    body = await replicator.post(query("User", "RemoteUser"))
    assert codes(body.get("errors") or []) == [], body
    # No REPLICATE on the source, or no WRITE on the target: FORBIDDEN.
    for source, target in (("FinancialRecord", "Note"), ("Note", "FinancialRecord")):
        body = await replicator.post(query(source, target))
        assert codes(body.get("errors") or []) == ["FORBIDDEN"], (source, target, body)
    body = await Api(server, tokens["writer"]).post(query("User", "RemoteUser"))
    assert codes(body.get("errors") or []) == ["FORBIDDEN"], body


# -- changeFeed over WebSocket ---------------------------------------------------------------


@pytest.fixture(scope="module")
def feed_docs(server, tokens):
    """A checkpoint per model, each followed by one document written by an admin."""
    import asyncio

    async def setup() -> dict[str, tuple[str, str]]:
        admin = Api(server, tokens["admin"])
        out = {}
        for model, create in (
            ("Note", 'mutation($id: ID!) { createNote(data: {id: $id, title: "f"}) { id } }'),
            (
                "FinancialRecord",
                'mutation($id: ID!) { createFinancialRecord(data: {id: $id, account: "f"})'
                " { id } }",
            ),
        ):
            since = await admin.checkpoint(model)
            doc_id = uid("feedperm-")
            await admin.data(create, {"id": doc_id})
            out[model] = (since, doc_id)
        return out

    return asyncio.run(setup())


FEED_CASES = [(role, model) for model in MODELS for role in ROLE_PERMISSIONS]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("role", "model"), FEED_CASES, ids=[f"{r}-{m}" for r, m in FEED_CASES])
async def test_change_feed_matrix(server, tokens, feed_docs, role, model, protocol):
    since, doc_id = feed_docs[model]
    async with Feed(server, tokens[role], model=model, since=since, protocol=protocol) as feed:
        if allowed(role, model, {"REPLICATE"}):
            change = await feed.next()
            assert (change["model"], change["modelId"]) == (model, doc_id)
        else:
            with pytest.raises(TransportQueryError) as raised:
                await feed.next()
            assert codes(raised.value.errors or []) == ["FORBIDDEN"], raised.value.errors
