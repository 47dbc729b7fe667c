"""graphql-codegen (typescript-operations, typed-document-node) on the exported schema
(``graphql-repl export-schema``) with the README's settings (tests/js/web/codegen.yml);
``tsc --strict`` compiles the generated types and an urql client that uses them
(tests/js/web/urql/), which then reads, pushes, merges and deletes a Note on a real
server, its graphcache refreshed by the answers and by ``streamNote``."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from servers import Server, graphql_repl_command

from .helpers import NOTE_FIELDS, Api, uid
from .node import ANSWER_TIMEOUT, PROJECT, run

GENERATED = PROJECT / "generated" / "graphql.ts"
SCENARIO = PROJECT / "build" / "urql" / "scenario.js"


@pytest.fixture(scope="module")
def compiled(node: str) -> str:
    """Types generated from schema.graphql and compiled, with the urql client, by tsc."""
    GENERATED.unlink(missing_ok=True)
    SCENARIO.unlink(missing_ok=True)
    (PROJECT / "schema.graphql").write_text(run([graphql_repl_command(), "export-schema"]).stdout)
    bin_dir = PROJECT / "node_modules" / ".bin"
    run([str(bin_dir / "graphql-codegen"), "--config", "codegen.yml"])
    run([str(bin_dir / "tsc"), "-p", "tsconfig.json"])
    return node


def test_generated_operation_types_compile_with_tsc_strict(compiled):
    source = GENERATED.read_text()
    for declared in (
        "type NoteInputPushRow =",
        "type PushNoteMutation =",
        "type StreamNoteSubscription =",
    ):
        assert source.count(f"export {declared}") == 1, declared
    assert '"strict": true' in (PROJECT / "tsconfig.json").read_text()
    assert SCENARIO.exists()


def scenario(compiled: str, server: Server, note_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            compiled,
            str(SCENARIO),
            server.url,
            server.ws_url,
            server.token("writer"),
            server.token("admin"),
            note_id,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=ANSWER_TIMEOUT * 3,
        check=False,
    )
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, f"{steps}\n{done.stderr[-4000:]}"
    errors = [s["value"] for s in steps if s["step"] == "error"]
    assert errors == []
    return {s["step"]: s["value"] for s in steps}


def test_urql_reads_pushes_and_its_cache_follows(compiled, server):
    admin = Api(server, server.token("admin"))
    for _ in range(3):  # the client pulls pages of 2
        admin.create("Note", NOTE_FIELDS, id=uid("other-"), title="other")
    note_id = uid("urql-")
    created = admin.create("Note", NOTE_FIELDS, id=note_id, title="t0", body="b0")

    steps = scenario(compiled, server, note_id)

    assert steps["read"] == created
    written = steps["written"]
    assert written["answer"] == []  # written as sent: nothing to report
    assert (written["watched"]["title"], written["watched"]["body"]) == ("t1", "b0")
    merged = steps["merged"]
    expected = {"title": "t2", "body": "b from the other client"}
    assert [{k: n[k] for k in expected} for n in merged["answer"]] == [expected]
    assert merged["watched"] == merged["answer"][0]
    deleted = steps["deleted"]
    assert deleted["answer"] == []
    assert deleted["watched"] == {
        **{k: None for k in NOTE_FIELDS.split()},
        "id": note_id,
        "_deleted": True,
    }
    assert deleted["listed"] == []
    assert steps["warnings"] == []
    assert admin.get("Note", NOTE_FIELDS, note_id) is None
