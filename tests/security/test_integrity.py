"""The store integrity check (integrity.py) passes on a store written through the API, and
fails on copies of that store corrupted behind the server's back: it can fail."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from servers import Server, ServerFactories, ServerFactory

from .callers import auth
from .integrity import check_store

CREATE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
UPDATE = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }"
DELETE = "mutation($id: ID!) { deleteNote(id: $id) }"


def _post(url: str, token: str, query: str, variables: dict[str, object]) -> dict[str, object]:
    response = httpx.post(
        url, json={"query": query, "variables": variables}, headers=auth(token), timeout=60
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert not body.get("errors"), body
    return body


def write_workload(server: Server) -> list[str]:
    """Creates, updates and deletes of Notes, and a User; returns the Note ids."""
    token = server.token("admin")
    ids = [f"n{i:03d}" for i in range(60)]
    for i, note_id in enumerate(ids):
        _post(
            server.url,
            token,
            CREATE,
            {"d": {"id": note_id, "title": f"t{i}", "tags": ["a"]}},
        )
    for note_id in ids[::3]:
        _post(server.url, token, UPDATE, {"id": note_id, "d": {"title": "changed", "views": 3}})
    for note_id in ids[1::5]:
        _post(server.url, token, DELETE, {"id": note_id})
    for note_id in ("t1:a", "t1:b"):  # a tenant's documents; one deleted (its tombstone)
        _post(server.url, token, CREATE, {"d": {"id": note_id, "tenantId": "t1"}})
    _post(server.url, token, DELETE, {"id": "t1:b"})
    _post(
        server.url,
        token,
        'mutation { createUser(data: {id: "u1", name: "a", email: "e"}) { id } }',
        {},
    )
    return [*ids, "t1:a", "t1:b"]


@pytest.fixture(scope="module")
def written(factory: ServerFactory) -> tuple[Path, list[str]]:
    """A stopped server's SQLite file after ``write_workload``; and the Note ids."""
    server = factory.start()
    ids = write_workload(server)
    assert server.stop() == 0, server.log_text()[-3000:]
    return Path(server.store.removeprefix("sqlite:///")), ids


def test_integrity_holds_on_mongodb(module_server_factories: ServerFactories) -> None:
    server = module_server_factories("mongodb").start()
    ids = write_workload(server)
    assert server.stop() == 0, server.log_text()[-3000:]
    report = check_store(server.store, {"Note": ids, "User": ["u1"]})
    assert report.ok, str(report)
    assert report.live["Note"] == 60 - 12 + 1
    assert report.log["Note"] == 62


def test_integrity_holds_after_writes(written: tuple[Path, list[str]]) -> None:
    path, ids = written
    report = check_store(f"sqlite:///{path}", {"Note": ids, "User": ["u1"]})
    assert report.ok, str(report)
    assert report.live["Note"] == 60 - 12 + 1
    assert report.log["Note"] == 62
    assert report.live["User"] == report.log["User"] == 1


def _delete_a_row(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM documents WHERE model = 'Note' AND id = 'n007'")


def _change_content(db: sqlite3.Connection) -> None:
    db.execute(
        "UPDATE documents SET data = json_set(data, '$.title', 'tampered')"
        " WHERE model = 'Note' AND id = 'n004'"
    )


def _tombstone_with_content(db: sqlite3.Connection) -> None:
    db.execute("UPDATE documents SET rev = NULL WHERE model = 'Note' AND id = 'n002'")


def _log_head_behind(db: sqlite3.Connection) -> None:
    # The last written rows now lie past the log's head: documents without a change entry.
    db.execute("UPDATE meta SET value = value - 3 WHERE key = 'seq'")


def _drop_id(db: sqlite3.Connection) -> None:
    db.execute(
        "UPDATE documents SET data = json_remove(data, '$.id') WHERE model = 'User' AND id = 'u1'"
    )


# Each corruption, and what the report must say about it.
CORRUPTIONS: dict[str, tuple[Callable[[sqlite3.Connection], None], str]] = {
    "delete-a-row": (_delete_a_row, "'n007' that was written is missing"),
    "change-content": (_change_content, "'n004': rev"),
    "tombstone-with-content": (_tombstone_with_content, "tombstone 'n002' keeps content"),
    "log-head-behind": (_log_head_behind, "has no change entry"),
    "drop-id": (_drop_id, "'u1' has data without its id"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_integrity_check_fails_on_a_corrupted_copy(
    written: tuple[Path, list[str]], tmp_path: Path, corruption: str
) -> None:
    path, ids = written
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
    db = sqlite3.connect(copy, isolation_level=None)
    try:
        corrupt, expected = CORRUPTIONS[corruption]
        corrupt(db)
        assert db.total_changes > 0
    finally:
        db.close()
    report = check_store(f"sqlite:///{copy}", {"Note": ids, "User": ["u1"]})
    assert not report.ok, f"the corruption {corruption!r} went unnoticed: {report}"
    assert any(expected in p for p in report.problems), str(report)
