"""Crashes and restarts: a target killed mid-run, the replicating process killed mid-run,
the source restarted under a live run. Nothing is lost, nothing is duplicated, and the
next run goes on from the stored checkpoints instead of sending everything again."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

from .helpers import (
    CLI_TIMEOUT,
    Client,
    Servers,
    Spawn,
    note_ids,
    read_state,
    replicate,
    replicate_args,
    wait_for,
)

EXIT_UNAVAILABLE = 5
MANY = 3000


def progress(state: Path) -> dict[str, Any] | None:
    """The state file once it holds a source checkpoint (a page has been applied)."""
    try:
        saved = read_state(state)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return saved if saved["checkpoints"]["source"] else None


def assert_state_consistent(saved: dict[str, Any], source: Client, target: Client) -> None:
    """Every change the stored source checkpoint covers is on the target."""
    after = {c["modelId"] for c in source.changes(since=saved["checkpoints"]["source"])}
    covered = set(source.documents()) - after
    assert covered, "the stored checkpoint covers nothing"
    assert covered <= set(target.documents())


def assert_copied_once(source: Client, target: Client, count: int) -> None:
    docs = target.documents()  # asserts that no id is listed twice
    assert len(docs) == count
    assert docs == source.documents()
    assert len(target.changes()) == count  # one change-log entry per document


def test_target_killed_mid_run(sqlite_servers: Servers, tmp_path: Path, spawn: Spawn) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    source, target = Client(a), Client(b)
    source.create_notes(note_ids(MANY))
    state = tmp_path / "state.json"
    args = replicate_args(a, b, "Note", state, "--batch-size", "25", "--retries", "2")
    process, errors = spawn(args, "run.out")

    wait_for(lambda: progress(state), what="a first page applied")
    b.process.kill()  # kill -9 the target in the middle of the run
    assert process.wait(CLI_TIMEOUT) == EXIT_UNAVAILABLE, errors.read_text()
    assert "Traceback" not in errors.read_text()
    assert "gave up after 2 attempts" in errors.read_text()
    saved = read_state(state)
    assert saved["checkpoints"]["source"] != source.checkpoint(), "finished before the kill"

    sqlite_servers.restart(b)  # on the same store
    assert_state_consistent(saved, source, target)
    rerun = replicate(a, b, "Note", state)
    assert rerun.code == 0, rerun
    assert rerun.summary["changes"] < MANY  # it went on from the stored checkpoint
    assert_copied_once(source, target, MANY)
    assert read_state(state)["checkpoints"]["source"] == source.checkpoint()


def test_run_retries_until_a_restarted_target_is_back(
    sqlite_servers: Servers, tmp_path: Path, spawn: Spawn
) -> None:
    """Within its retries, a run outlasts a crash of the target and finishes the copy."""
    a, b = sqlite_servers.start(), sqlite_servers.start()
    source, target = Client(a), Client(b)
    source.create_notes(note_ids(MANY))
    state = tmp_path / "state.json"
    args = replicate_args(a, b, "Note", state, "--batch-size", "25", "--retries", "0")
    process, errors = spawn(args, "run.out")

    wait_for(lambda: progress(state), what="a first page applied")
    sqlite_servers.restart(b, signal.SIGKILL)
    assert process.wait(CLI_TIMEOUT) == 0, errors.read_text()
    assert "retrying in" in errors.read_text()
    assert_copied_once(source, target, MANY)
    assert read_state(state)["checkpoints"]["source"] == source.checkpoint()


def test_replicating_process_killed_mid_run(
    sqlite_servers: Servers, tmp_path: Path, spawn: Spawn
) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    source, target = Client(a), Client(b)
    source.create_notes(note_ids(MANY))
    state = tmp_path / "state.json"
    process, _ = spawn(replicate_args(a, b, "Note", state, "--batch-size", "25"), "run.out")

    wait_for(lambda: progress(state), what="a first page applied")
    process.kill()  # kill -9 the replicating process
    process.wait(CLI_TIMEOUT)
    saved = read_state(state)  # whole: written atomically
    assert saved["checkpoints"]["source"] != source.checkpoint(), "finished before the kill"
    assert_state_consistent(saved, source, target)

    rerun = replicate(a, b, "Note", state)
    assert rerun.code == 0, rerun
    assert rerun.summary["changes"] < MANY
    assert_copied_once(source, target, MANY)
    assert read_state(state)["checkpoints"]["source"] == source.checkpoint()


def test_live_run_follows_the_source_across_restarts(
    sqlite_servers: Servers, tmp_path: Path, spawn: Spawn
) -> None:
    a, b = sqlite_servers.start(), sqlite_servers.start()
    source, target = Client(a), Client(b)
    source.create_notes(note_ids(100, "before"))
    state = tmp_path / "state.json"
    process, errors = spawn(
        replicate_args(a, b, "Note", state, "--live", "--batch-size", "100"), "live.out"
    )
    try:

        def caught_up() -> bool:
            return target.documents() == source.documents()

        wait_for(caught_up, what="the initial copy")
        source.create_notes(note_ids(20, "live"))
        wait_for(caught_up, what="live changes")

        # A burst, and the source crashes right after it: part of the burst may not have
        # reached the replicator. Restarted on the same store and port, then more writes.
        source.create_notes(note_ids(300, "burst"))
        sqlite_servers.restart(a, signal.SIGKILL)
        source.create_notes(note_ids(30, "after-crash"))
        wait_for(caught_up, what="the changes around the crash")

        # A clean restart (the server closes the connection with 1012) is followed as well.
        sqlite_servers.restart(a)
        source.create("Note", {"id": "after-restart", "title": "last"})
        wait_for(caught_up, what="the change after the restart")
        assert len(target.documents()) == 451
        assert process.poll() is None, errors.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, errors.read_text()
    log = errors.read_text()
    assert "reconnecting" in log
    assert "Traceback" not in log
    summary = json.loads((tmp_path / "live.out").read_text().splitlines()[-1])
    assert summary["stopped"] is True
    assert summary["conflictIds"] == []
    assert read_state(state)["checkpoints"]["source"] == source.checkpoint()
    assert len(target.changes()) == 451
