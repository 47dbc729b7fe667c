"""Replication both ways, and across several hops: replicas converge, echoes stop at once,
and conflicts a strategy cannot merge are reported (exit code 3) until they are resolved."""

from __future__ import annotations

from pathlib import Path

from servers import Server

from .helpers import Client, Run, Servers, note_ids, replicate, replicate_args, run_cli

EXIT_CONFLICTS = 3


def sync(a: Server, b: Server, model: str, states: Path) -> tuple[Run, Run]:
    """A -> B, then B -> A, each with a state file of its own."""
    there = replicate(a, b, model, states / f"{model}-a-b.json")
    back = replicate(b, a, model, states / f"{model}-b-a.json")
    return there, back


def test_notes_converge_both_ways_without_ping_pong(
    sqlite_servers: Servers, tmp_path: Path
) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    left, right = Client(a), Client(b)
    left.create_notes(note_ids(40, "a"), tags=["start"], views=1)
    right.create_notes(note_ids(10, "b"), views=1)
    first = sync(a, b, "Note", tmp_path)
    assert [r.code for r in first] == [0, 0], first
    assert first[0].summary["applied"] == 40
    assert first[1].summary["applied"] == 10
    assert first[1].summary["unchanged"] == 40  # echoes
    assert left.documents() == right.documents()

    # Concurrent edits on both sides, merged by Note's strategies.
    left.update("Note", "a00000", {"title": "title from A", "tags": ["start", "a"]})
    right.update("Note", "a00000", {"body": "body from B", "tags": ["start", "b"]})
    left.update("Note", "a00001", {"title": "earlier"})
    right.update("Note", "a00001", {"title": "later"})  # LATEST: the later write wins
    left.update("Note", "b00000", {"views": 3})
    right.update("Note", "b00000", {"views": 7})  # MAX
    left.delete("Note", "a00002")
    right.create("Note", {"id": "new-on-b", "title": "new"})

    rounds = [sync(a, b, "Note", tmp_path) for _ in range(3)]
    assert all(r.code == 0 for pair in rounds for r in pair), rounds
    assert left.documents() == right.documents()
    merged = right.documents()
    assert merged["a00000"]["title"] == "title from A"
    assert merged["a00000"]["body"] == "body from B"
    assert sorted(merged["a00000"]["tags"]) == ["a", "b", "start"]
    assert merged["a00001"]["title"] == "later"
    assert merged["b00000"]["views"] == 7
    assert "a00002" not in merged
    assert "new-on-b" in merged
    # No ping-pong: by the last round nothing is left to send either way.
    assert [r.summary["changes"] for r in rounds[-1]] == [0, 0], rounds[-1]


def test_user_conflicts_are_reported_both_ways_until_resolved(
    sqlite_servers: Servers, tmp_path: Path
) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    left, right = Client(a), Client(b)
    left.create("User", {"id": "u1", "name": "Ada", "email": "ada@example.org"})
    left.create("User", {"id": "u2", "name": "Bob", "email": "bob@example.org"})
    assert [r.code for r in sync(a, b, "User", tmp_path)] == [0, 0]

    left.update("User", "u1", {"name": "Ada (A)"})
    right.update("User", "u1", {"name": "Ada (B)"})  # User fields are MANUAL
    right.update("User", "u2", {"email": "bob@example.net"})  # one side only: no conflict
    there, back = sync(a, b, "User", tmp_path)
    for run in (there, back):
        assert run.code == EXIT_CONFLICTS, run
        assert run.summary["conflictIds"] == ["u1"]
        assert run.summary["conflict"] == 1
    assert left.conflicts("User") == right.conflicts("User") == ["u1"]
    assert left.documents("User")["u2"] == right.documents("User")["u2"]
    assert left.documents("User")["u1"]["name"] == "Ada (A)"
    assert right.documents("User")["u1"]["name"] == "Ada (B)"

    # No new conflict (only the echo of u2 comes by), but u1's is still there: still reported.
    again = replicate(a, b, "User", tmp_path / "User-a-b.json")
    assert again.code == EXIT_CONFLICTS, again
    assert again.summary["conflict"] == 0
    assert again.summary["conflictIds"] == ["u1"]

    # Resolved on B for the source side (A's version) ...
    resolved = replicate(a, b, "User", tmp_path / "User-a-b.json", "--on-conflict", "source")
    assert resolved.code == 0, resolved
    assert resolved.summary["resolved"] == 1
    assert resolved.summary["conflictIds"] == []
    assert right.conflicts("User") == []
    assert right.documents("User")["u1"]["name"] == "Ada (A)"
    # ... and the resolution flows back and settles A's record of the conflict as well.
    there, back = sync(a, b, "User", tmp_path)
    assert (there.code, back.code) == (0, 0), (there, back)
    assert left.conflicts("User") == []
    assert left.documents("User") == right.documents("User")


def test_human_summary_lists_the_conflicts(sqlite_servers: Servers) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    left, right = Client(a), Client(b)
    left.create("User", {"id": "u9", "name": "Ann", "email": "ann@example.org"})
    right.create("User", {"id": "u9", "name": "Anne", "email": "ann@example.org"})
    human = replicate_args(a, b, "User")
    human.remove("--json")
    run = run_cli(human)
    assert run.code == EXIT_CONFLICTS, run
    assert "1 conflict left unresolved on the target: u9" in run.stdout


def test_changes_flow_across_hops_and_back_without_echoes(
    sqlite_servers: Servers, tmp_path: Path
) -> None:
    a, b, c = (sqlite_servers.start() for _ in range(3))
    ca, cb, cc = Client(a), Client(b), Client(c)
    ca.create_notes(note_ids(50))
    assert replicate(a, b, "Note", tmp_path / "ab.json").code == 0
    assert replicate(b, c, "Note", tmp_path / "bc.json").code == 0
    assert cc.documents() == ca.documents()

    cc.update("Note", "n00003", {"title": "edited on C"})
    cc.create("Note", {"id": "made-on-c", "title": "new"})
    up = replicate(c, b, "Note", tmp_path / "cb.json")
    assert up.code == 0, up
    assert up.summary["applied"] == 2
    assert up.summary["unchanged"] == 49  # the rest: echoes
    assert replicate(b, a, "Note", tmp_path / "ba.json").code == 0
    assert ca.documents()["n00003"]["title"] == "edited on C"
    assert ca.documents() == cb.documents() == cc.documents()

    # Around the ring again: the two changes arrive where they already are, and stop there.
    b_log, c_log = cb.checkpoint(), cc.checkpoint()
    ab = replicate(a, b, "Note", tmp_path / "ab.json")
    bc = replicate(b, c, "Note", tmp_path / "bc.json")
    assert ab.summary["changes"] == 2, ab
    assert ab.summary["unchanged"] == 2, ab
    assert bc.summary["changes"] == 2, bc
    assert bc.summary["unchanged"] == 2, bc
    assert cb.changes(since=b_log) == []
    assert cc.changes(since=c_log) == []
