"""The state file of ``graphql-repl replicate``: where a replication between two servers is.

It holds the checkpoint pair to continue from and the ids of the conflicts the replication
left on the target, as JSON. It is replaced atomically (a temporary file in the same
directory, written and fsynced, renamed over the old one, the directory fsynced), so after
a crash at any moment it is either the old state or the new one, never a mix. A lock
(``flock`` on ``<file>.lock``, removed when the run ends) keeps two runs from sharing one
state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import StateError
from ..replication.types import CheckpointPair

VERSION = 1


@dataclass
class State:
    """Where a replication of ``model`` into ``target_model`` is: the checkpoints to go on
    from, and the conflicts it left on the target."""

    model: str
    target_model: str
    source: str = ""  # the URLs, to tell the user; checkpoints carry their store's identity
    target: str = ""
    checkpoints: CheckpointPair = field(default_factory=CheckpointPair)
    conflicts: list[str] = field(default_factory=list)  # left unresolved on the target

    def to_json(self) -> bytes:
        """The state file's content."""
        return orjson.dumps(
            {
                "version": VERSION,
                "model": self.model,
                "targetModel": self.target_model,
                "source": self.source,
                "target": self.target,
                "checkpoints": {
                    "source": self.checkpoints.source,
                    "target": self.checkpoints.target,
                },
                "conflicts": self.conflicts,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> State:
        """The state in a state file's content; ``ValueError`` if it is not one."""
        data: Any = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} state file")
        checkpoints = data.get("checkpoints") or {}
        conflicts = data.get("conflicts") or []
        values = (
            data.get("model"),
            data.get("targetModel"),
            checkpoints.get("source"),
            checkpoints.get("target"),
        )
        if (
            not all(isinstance(v, str) for v in values[:2])
            or not all(v is None or isinstance(v, str) for v in values[2:])
            or not isinstance(conflicts, list)
            or not all(isinstance(c, str) for c in conflicts)
        ):
            raise ValueError("unexpected content")
        return cls(
            data["model"],
            data["targetModel"],
            str(data.get("source") or ""),
            str(data.get("target") or ""),
            CheckpointPair(checkpoints.get("source"), checkpoints.get("target")),
            list(conflicts),
        )


def _same_file(opened: IO[bytes], path: Path) -> bool:
    try:
        return os.fstat(opened.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


class StateFile:
    """``path``'s state, locked while open (``with StateFile(path) as f: ...``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[bytes] | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def __enter__(self) -> StateFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            lock = self.lock_path.open("ab")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise StateError(
                    f"state file {self.path} is in use by another graphql-repl replicate"
                ) from None
            # The run that held the lock removes the file as it lets go: a lock taken on
            # a file no longer at the path guards nothing; take the one there now.
            if _same_file(lock, self.lock_path):
                self._lock = lock
                return self
            lock.close()

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()  # while still holding it: see __enter__
            self._lock.close()  # releases the lock
            self._lock = None

    def load(self) -> State | None:
        """The stored state; None when there is none yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from None
        try:
            return State.from_json(raw)
        except ValueError as exc:
            raise StateError(f"state file {self.path} is not valid: {exc}") from None

    def save(self, state: State) -> None:
        """Replace the stored state atomically and durably."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as out:
                out.write(state.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
