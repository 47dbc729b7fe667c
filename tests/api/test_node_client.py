"""The npm ``graphql-ws`` client, from Node (tests/js/feed-client.mjs), against the real
server: changeFeed events created over HTTP, and token failures."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .helpers import EVENT_TIMEOUT, Api, uid

JS = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS / "feed-client.mjs"

pytestmark = pytest.mark.usefixtures("check_server_alive")


@pytest.fixture(scope="session")
def node() -> str:
    """``node``, with tests/js's dependencies installed (npm ci from the lockfile)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the graphql-ws client tests")
    lock = JS / "package-lock.json"
    installed = JS / "node_modules" / ".package-lock.json"
    newest = max(p.stat().st_mtime for p in (JS / "package.json", lock) if p.exists())
    if not installed.exists() or installed.stat().st_mtime < newest:
        command = [npm, "ci"] if lock.exists() else [npm, "install"]
        done = subprocess.run(
            [*command, "--no-audit", "--no-fund"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr}"
    return node


class NodeFeed:
    """feed-client.mjs running as a child process; its JSON lines read one by one."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, node: str, server, token: str, since: str | None, count: int, model: str = "Note"
    ) -> NodeFeed:
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            server.ws_url,
            token,
            model,
            since or "-",
            str(count),
            cwd=JS,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), EVENT_TIMEOUT)
        if not raw:
            stderr = await self.process.stderr.read() if self.process.stderr else b""
            raise AssertionError(f"feed-client.mjs ended early: {stderr.decode()[-2000:]}")
        message: dict[str, Any] = json.loads(raw)
        return message

    async def wait(self) -> int:
        return await asyncio.wait_for(self.process.wait(), EVENT_TIMEOUT)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def test_node_graphql_ws_client_receives_changes(server, tokens, node):
    api = Api(server, tokens["admin"])
    since = await api.checkpoint()
    before = [uid("node-") for _ in range(2)]
    for note_id in before:
        await api.create_note(id=note_id, title="before")
    feed = await NodeFeed.start(node, server, tokens["replicator"], since, count=4)
    try:
        assert await feed.line() == {"event": "connected"}
        replayed = [(await feed.line())["change"] for _ in before]
        assert [c["modelId"] for c in replayed] == before
        assert all(c["model"] == "Note" and c["type"] == "CREATE" for c in replayed)
        after = [uid("node-") for _ in range(2)]
        for note_id in after:
            await api.create_note(id=note_id, title="after")
        live = [(await feed.line())["change"] for _ in after]
        assert [c["modelId"] for c in live] == after
        assert [c["data"]["title"] for c in live] == ["after", "after"]
        assert await feed.line() == {"event": "done"}
        assert await feed.wait() == 0
    finally:
        await feed.kill()


async def test_node_graphql_ws_client_with_an_unknown_token_is_rejected(server, node):
    feed = await NodeFeed.start(node, server, "grepl_000000000000_no-such-token", None, count=1)
    try:
        message = await feed.line()
        assert message.get("error", {}).get("code") == 4403, message
        assert await feed.wait() == 2
    finally:
        await feed.kill()


async def test_node_graphql_ws_client_without_permission_gets_forbidden(server, tokens, node):
    feed = await NodeFeed.start(node, server, tokens["reader"], None, count=1)
    try:
        assert await feed.line() == {"event": "connected"}
        message = await feed.line()
        errors = message.get("error", {}).get("graphql")
        assert errors, message
        assert [(e.get("extensions") or {}).get("code") for e in errors] == ["FORBIDDEN"]
        assert await feed.wait() == 2
    finally:
        await feed.kill()
