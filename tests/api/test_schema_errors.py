"""Error codes with bad inputs (CONTRACT §6), on the schema in process (in_process.py): the
API's own answers, whatever the transport. The transport's part is in test_errors.py."""

from __future__ import annotations

import pytest

from .helpers import CHANGES
from .in_process import LocalServer, LocalServers

# (name, query, variables): each must fail with BAD_USER_INPUT for an admin.
BAD_INPUT = [
    ("unterminated string", '{ checkpoint(model: "Note) }', None),
    ("unknown field", "{ noSuchField }", None),
    ("unknown subfield", '{ changes(model: "Note") { nope } }', None),
    ("unknown argument", '{ checkpoint(model: "Note", bogus: 1) }', None),
    ("missing argument", "{ checkpoint }", None),
    ("wrong argument type", '{ changes(model: "Note", limit: "ten") { hasMore } }', None),
    ("wrong argument type (model)", "{ checkpoint(model: 5) }", None),
    ("wrong enum", 'mutation { resolveConflict(model: "User", modelId: "x", using: BOTH) }', None),
    (
        "wrong variable type",
        'query($l: Int) { changes(model: "Note", limit: $l) { hasMore } }',
        {"l": "ten"},
    ),
    (
        "missing required variable",
        "query($m: String!) { checkpoint(model: $m) }",
        {},
    ),
    ("unknown model (checkpoint)", '{ checkpoint(model: "NoSuchModel") }', None),
    ("unknown model (conflicts)", '{ conflicts(model: "NoSuchModel") { modelId } }', None),
    (
        "unknown model (bulkUpdate)",
        'mutation { bulkUpdate(model: "NoSuchModel", updates: []) { checkpoint } }',
        None,
    ),
    (
        "unknown model (diff)",
        'mutation { diff(model: "NoSuchModel", changes: []) { deltas { modelId } } }',
        None,
    ),
    (
        "unknown model (replicate source)",
        'mutation { replicate(source: "NoSuchModel", target: "Note") { updates { modelId } } }',
        None,
    ),
    (
        "unknown model (replicate target)",
        'mutation { replicate(source: "User", target: "NoSuchModel") { updates { modelId } } }',
        None,
    ),
    ("malformed checkpoint", '{ changes(model: "Note", since: "garbage") { hasMore } }', None),
    ("empty checkpoint", '{ changes(model: "Note", since: "") { hasMore } }', None),
    (
        "malformed checkpoint in diff",
        'mutation { diff(model: "Note", since: "garbage", changes: []) { deltas { modelId } } }',
        None,
    ),
    ("filter: unknown field", '{ changes(model: "Note", where: {nope: 1}) { hasMore } }', None),
    (
        "filter: unknown operator",
        '{ changes(model: "Note", where: {title: {regexp: "x"}}) { hasMore } }',
        None,
    ),
    ("filter: not an object", '{ changes(model: "Note", where: 5) { hasMore } }', None),
    (
        "filter: wrong value type",
        '{ changes(model: "Note", where: {views: {gt: "many"}}) { hasMore } }',
        None,
    ),
    ("filter on typed list", "{ notes(where: {nope: 1}) { id } }", None),
    ("limit 0", '{ changes(model: "Note", limit: 0) { hasMore } }', None),
    ("limit 5001", '{ changes(model: "Note", limit: 5001) { hasMore } }', None),
    ("limit -1", '{ changes(model: "Note", limit: -1) { hasMore } }', None),
    ("typed limit 0", "{ notes(limit: 0) { id } }", None),
    ("typed limit 5001", "{ notes(limit: 5001) { id } }", None),
    ("typed negative offset", "{ notes(offset: -1) { id } }", None),
    (
        "invalid document type",
        "mutation { createUser(data: {name: 5}) { id } }",
        None,
    ),
    (
        "manual resolution without data",
        'mutation { resolveConflict(model: "User", modelId: "x", using: MANUAL) }',
        None,
    ),
    (
        "too many diff changes",
        'mutation($c: [ChangeInput!]!) { diff(model: "Note", changes: $c) { deltas { modelId } } }',
        {"c": [{"modelId": f"d{i}", "type": "CREATE", "rev": "r"} for i in range(6000)]},
    ),
    ("deeply nested query", "{ notes " + "{ id " * 3000 + "}" * 3001, None),
]


@pytest.mark.parametrize(
    ("query", "variables"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
async def test_bad_input_is_bad_user_input(local: LocalServer, query, variables):
    assert await (await local.api("admin")).code(query, variables) == "BAD_USER_INPUT"


async def test_checkpoint_from_another_server_is_bad_user_input_asking_to_resync(
    local: LocalServer, local_servers: LocalServers
):
    other = await local_servers.start()
    foreign = await (await other.api("admin")).checkpoint()
    ours = await (await local.api("admin")).checkpoint()
    assert foreign != ours
    api = await local.api("admin")
    assert await api.code(CHANGES, {"model": "Note", "since": foreign}) == "BAD_USER_INPUT"
    (error,) = await api.errors(CHANGES, {"model": "Note", "since": foreign})
    assert error["extensions"]["resync"] is True
    (malformed,) = await api.errors(CHANGES, {"model": "Note", "since": "garbage"})
    assert "resync" not in malformed["extensions"]


async def test_update_of_a_missing_document_is_not_found(local: LocalServer):
    api = await local.api("admin")
    code = await api.code('mutation { updateNote(id: "no-such-note", data: {title: "x"}) { id } }')
    assert code == "NOT_FOUND"
    deleted = await api.data('mutation { deleteNote(id: "no-such-note") }')
    assert deleted == {"deleteNote": False}
