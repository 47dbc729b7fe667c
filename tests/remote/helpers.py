"""What the server-to-server tests do: seed and read servers over HTTP, run the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mongo_server
from servers import Server, ServerFactory, graphql_repl_command

CLI_TIMEOUT = 120.0  # generous: only reached when something is wrong
WAIT_TIMEOUT = 30.0

# ``spawn(args, name)``: a command started in the background (see conftest's ``spawn``).
Spawn = Callable[[list[str], str], tuple[subprocess.Popen[str], Path]]


def uid(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class Servers:
    """Starts servers for one test (on fresh stores of one kind); stops them after it."""

    def __init__(self, factory: ServerFactory) -> None:
        self.factory = factory
        self.started: list[Server] = []

    def start(self) -> Server:
        server = self.factory.start()
        self.started.append(server)
        return server

    def restart(self, server: Server, sig: int = signal.SIGTERM) -> None:
        self.factory.restart(server, sig)

    def close(self) -> None:
        self.factory.close(self.started)


class Client:
    """Plain GraphQL over HTTP to one server, with its replicator token."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.token = server.token("replicator")

    def data(self, query: str, **variables: Any) -> Any:
        response = httpx.post(
            self.server.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def checkpoint(self, model: str = "Note") -> str:
        cp: str = self.data("query($m: String!) { checkpoint(model: $m) }", m=model)["checkpoint"]
        return cp

    def bulk(self, model: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.data(
            """mutation($m: String!, $u: [UpdateInput!]!) {
                 bulkUpdate(model: $m, updates: $u) { results { modelId status } checkpoint }
               }""",
            m=model,
            u=updates,
        )["bulkUpdate"]
        return result

    def create_notes(self, ids: Sequence[str], **fields: Any) -> None:
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            self.bulk(
                "Note",
                [
                    {
                        "modelId": i,
                        "type": "CREATE",
                        "data": {"id": i, "title": f"title {i}", "body": "b" * 150, **fields},
                    }
                    for i in chunk
                ],
            )

    def create(self, model: str, data: dict[str, Any]) -> None:
        fields = "id" if model == "Note" else "id name"
        self.data(
            f"mutation($d: {model}Input!) {{ create{model}(data: $d) {{ {fields} }} }}", d=data
        )

    def update(self, model: str, model_id: str, patch: dict[str, Any]) -> None:
        mutation = f"update{model}(id: $id, data: $d) {{ id }}"
        self.data(f"mutation($id: ID!, $d: {model}Patch!) {{ {mutation} }}", id=model_id, d=patch)

    def delete(self, model: str, model_id: str) -> None:
        assert self.data(f"mutation($id: ID!) {{ delete{model}(id: $id) }}", id=model_id)[
            f"delete{model}"
        ]

    def documents(self, model: str = "Note") -> dict[str, dict[str, Any]]:
        """Every live document of ``model``, by id (asserting each id appears once)."""
        plural = {"Note": "notes", "User": "users"}[model]
        fields = "id title body tags views" if model == "Note" else "id name email"
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self.data(
                f"query($o: Int!) {{ {plural}(limit: 5000, offset: $o) {{ {fields} }} }}", o=offset
            )[plural]
            for doc in page:
                assert doc["id"] not in out, f"{doc['id']} listed twice"
                out[doc["id"]] = doc
            if len(page) < 5000:
                return out
            offset += len(page)

    def changes(self, model: str = "Note", since: str | None = None) -> list[dict[str, Any]]:
        """Every change after ``since`` (each document at most once)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.data(
                """query($m: String!, $s: Checkpoint) {
                     changes(model: $m, since: $s, limit: 5000) {
                       changes { modelId type } checkpoint hasMore
                     }
                   }""",
                m=model,
                s=since,
            )["changes"]
            out += page["changes"]
            since = page["checkpoint"]
            if not page["hasMore"]:
                return out

    def conflicts(self, model: str) -> list[str]:
        found = self.data("query($m: String!) { conflicts(model: $m) { modelId } }", m=model)
        return sorted(c["modelId"] for c in found["conflicts"])


@dataclass
class Run:
    """A finished ``graphql-repl replicate``."""

    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The ``--json`` summary (the last line of stdout)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no summary on stdout; stderr:\n{self.stderr}"
        summary: dict[str, Any] = json.loads(lines[-1])
        return summary

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def replicate_args(
    source: Server,
    target: Server,
    model: str = "Note",
    state: Path | None = None,
    *extra: str,
) -> list[str]:
    args = [
        graphql_repl_command(),
        "replicate",
        "--source",
        source.url,
        "--target",
        target.url,
        "--model",
        model,
        "--source-token",
        source.token("replicator"),
        "--target-token",
        target.token("replicator"),
        "--json",
    ]
    if state is not None:
        args += ["--state", str(state)]
    return args + list(extra)


def replicate(
    source: Server, target: Server, model: str = "Note", state: Path | None = None, *extra: str
) -> Run:
    """Run ``graphql-repl replicate`` (one-shot) to the end."""
    return run_cli(replicate_args(source, target, model, state, *extra))


def run_cli(args: list[str]) -> Run:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        env=mongo_server.subprocess_env(),
    )
    return Run(done.returncode, done.stdout, done.stderr)


def start_cli(args: list[str], log: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start ``graphql-repl replicate`` in the background; stdout goes to ``log``, stderr
    to ``log`` + ``.err``."""
    err = log.with_name(log.name + ".err")
    with log.open("w") as out, err.open("w") as errors:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            text=True,
            env=mongo_server.subprocess_env(),
        )
    return process, err


def wait_for(condition: Callable[[], Any], timeout: float = WAIT_TIMEOUT, what: str = "") -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


def note_ids(n: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def read_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.read_text())
    return state
