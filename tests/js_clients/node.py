"""Node clients for the tests: ``npm ci`` of tests/js/web, and a Node script driven over
JSON lines (tests/js/web/lib/commands.mjs)."""

from __future__ import annotations

import itertools
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[1] / "js" / "web"
# Longer than the Node side's own waits (WAIT_MS), so that it answers with its error first.
ANSWER_TIMEOUT = 40.0
INSTALL_TIMEOUT = 600


def run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command in tests/js/web; fails the test with its output when it fails."""
    done = subprocess.run(
        args, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def install() -> str:
    """``node``, with tests/js/web's dependencies installed by ``npm ci`` from its lockfile
    (again only when package.json or the lockfile changed since)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the web client tests")
    installed = PROJECT / "node_modules" / ".package-lock.json"
    newest = max(
        p.stat().st_mtime for p in (PROJECT / "package.json", PROJECT / "package-lock.json")
    )
    if not installed.exists() or installed.stat().st_mtime < newest:
        run([npm, "ci", "--no-audit", "--no-fund"], timeout=INSTALL_TIMEOUT)
    return node


class NodeClient:
    """A Node script of tests/js/web answering commands, one JSON line each way."""

    def __init__(self, node: str, script: str, *args: str) -> None:
        self.script = script
        self.process = subprocess.Popen(
            [node, script, *args],
            cwd=PROJECT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._ids = itertools.count(1)
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._ready: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        try:
            self._ready.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            self.close()
            pytest.fail(f"{script} did not start:\n{self.stderr()}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:  # something the script's libraries printed
                self._stderr.append(f"(stdout) {line}")
                continue
            if message.get("event") == "ready":
                self._ready.put(message)
            else:
                self._queue(message["n"]).put(message)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def _queue(self, number: int) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._answers.setdefault(number, queue.Queue())

    def stderr(self) -> str:
        return "".join(self._stderr)[-4000:]

    def send(self, cmd: str, **args: Any) -> int:
        """Send a command without waiting; ``answer`` waits for its result."""
        number = next(self._ids)
        assert self.process.stdin is not None
        if self.process.poll() is not None:
            pytest.fail(f"{self.script} exited with {self.process.returncode}:\n{self.stderr()}")
        self.process.stdin.write(json.dumps({"n": number, "cmd": cmd, **args}) + "\n")
        self.process.stdin.flush()
        return number

    def answer(self, number: int, timeout: float = ANSWER_TIMEOUT) -> Any:
        try:
            message = self._queue(number).get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"{self.script}: no answer within {timeout} s:\n{self.stderr()}")
        if "error" in message:
            stderr = self.stderr()
            raise NodeError(message["error"] + (f"\nstderr:\n{stderr}" if stderr else ""))
        return message["result"]

    def call(self, cmd: str, **args: Any) -> Any:
        """Run a command and return its result (raises ``NodeError`` when it failed)."""
        return self.answer(self.send(cmd, **args))

    def close(self) -> int:
        """Close stdin (the script closes its clients and exits) and wait for it."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(ANSWER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(ANSWER_TIMEOUT)


class NodeError(AssertionError):
    """A command failed in the Node script (its message and stack)."""
