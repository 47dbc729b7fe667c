"""Fixtures of the security suite: real ``graphql-repl serve`` processes (tests/servers.py),
fresh for each test module so that hostile traffic in one never hides in another, and a
token per caller kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import Server, ServerFactory  # tests/servers.py (pytest puts tests/ on sys.path)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Who calls: a token per role, a replicator bound to tenant t1, no token, an unknown token.
CALLERS = ("admin", "writer", "reader", "replicator", "tenant", "none", "bad")
BAD_TOKEN = "grepl_0000000000000000_notarealsecret"


def caller_token(server: Server, caller: str) -> str | None:
    if caller == "none":
        return None
    if caller == "bad":
        return BAD_TOKEN
    if caller == "tenant":
        return server.token("replicator", "t1")
    return server.token(caller)


def auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    made = ServerFactory(tmp_path_factory.mktemp("security"))
    yield made
    made.close()


def write_artifact(name: str, content: Any) -> Path:
    """Merge ``content`` (a dict) into ``test-artifacts/<name>`` and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    merged: dict[str, Any] = {}
    if path.exists():
        try:
            merged = json.loads(path.read_text())
        except ValueError:
            merged = {}
    merged.update(content)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return path
