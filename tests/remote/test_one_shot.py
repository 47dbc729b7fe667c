"""One-shot replication between two servers, and the incremental runs after it."""

from __future__ import annotations

from pathlib import Path

from .helpers import Client, Servers, note_ids, read_state, replicate, replicate_args, run_cli


def test_copy_then_incremental_runs_send_only_what_changed(
    any_servers: Servers, tmp_path: Path
) -> None:
    a, b = any_servers.start(), any_servers.start()
    source, target = Client(a), Client(b)
    ids = note_ids(1200)
    source.create_notes(ids, tags=["x"], views=1)
    state = tmp_path / "a-to-b.json"

    first = replicate(a, b, "Note", state, "--batch-size", "250")
    assert first.code == 0, first
    assert first.summary["changes"] == 1200
    assert first.summary["applied"] == 1200
    assert target.documents() == source.documents()
    saved = read_state(state)
    assert saved["checkpoints"]["source"] == source.checkpoint()
    assert saved["checkpoints"]["target"] == target.checkpoint()

    # Nothing changed: nothing is sent, and the target's change log does not grow.
    target_log = target.checkpoint()
    second = replicate(a, b, "Note", state)
    assert second.code == 0, second
    assert second.summary["changes"] == 0
    assert target.changes(since=target_log) == []

    # Ten edits and a new note: exactly those eleven are sent.
    for note_id in ids[:10]:
        source.update("Note", note_id, {"title": f"edited {note_id}", "views": 5})
    source.create("Note", {"id": "late", "title": "late"})
    third = replicate(a, b, "Note", state)
    assert third.code == 0, third
    assert third.summary["changes"] == 11
    assert third.summary["applied"] == 11
    assert sorted(c["modelId"] for c in target.changes(since=target_log)) == sorted(
        [*ids[:10], "late"]
    )
    assert target.documents() == source.documents()


def test_deletes_are_replicated(sqlite_servers: Servers, tmp_path: Path) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    source, target = Client(a), Client(b)
    ids = note_ids(30)
    source.create_notes(ids)
    state = tmp_path / "state.json"
    assert replicate(a, b, "Note", state).code == 0
    for note_id in ids[:7]:
        source.delete("Note", note_id)

    run = replicate(a, b, "Note", state)
    assert run.code == 0, run
    assert run.summary["changes"] == 7
    assert run.summary["applied"] == 7
    assert sorted(target.documents()) == ids[7:]
    deleted = [c for c in target.changes() if c["type"] == "DELETE"]
    assert sorted(c["modelId"] for c in deleted) == ids[:7]


def test_accepts_base_urls_and_a_target_model(sqlite_servers: Servers) -> None:
    """``http://host:port`` and ``.../graphql`` both name a server; --target-model renames."""
    a, b = sqlite_servers.start(), sqlite_servers.start()
    Client(a).create("User", {"id": "u1", "name": "Ada", "email": "ada@example.org"})
    args = replicate_args(a, b, "User", None, "--target-model", "RemoteUser")
    args[args.index(a.url)] = f"http://127.0.0.1:{a.port}"
    run = run_cli(args)
    assert run.code == 0, run
    found = Client(b).data('query { remoteUser(id: "u1") { id name email } }')["remoteUser"]
    assert found == {"id": "u1", "name": "Ada", "email": "ada@example.org"}


def test_a_checkpoint_the_source_cannot_continue_from_means_a_full_copy(
    sqlite_servers: Servers, tmp_path: Path
) -> None:
    """A state file whose source checkpoint another store issued: the source says resync;
    the run says so and copies everything again."""
    a, b, c = sqlite_servers.start(), sqlite_servers.start(), sqlite_servers.start()
    Client(a).create_notes(note_ids(5, "a"))
    Client(b).create_notes(note_ids(8, "b"))
    state = tmp_path / "state.json"
    assert replicate(a, c, "Note", state).code == 0

    run = replicate(b, c, "Note", state)
    assert run.code == 0, run
    assert run.summary["resynced"] is True
    assert run.summary["changes"] == 8
    assert "starting again from no checkpoint" in run.stderr
    assert sorted(Client(c).documents()) == note_ids(5, "a") + note_ids(8, "b")
    assert read_state(state)["checkpoints"]["source"] == Client(b).checkpoint()
