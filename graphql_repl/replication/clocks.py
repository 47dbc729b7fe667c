"""Hybrid logical clock stamps for per-field LATEST merges.

A stamp is a fixed-width string ``<ms:12 hex><counter:4 hex><node>`` so that comparing two
stamps as strings orders them by (physical time, counter, node). The clock never goes
backwards, and observing a remote stamp moves it past that stamp, so an edit made after
seeing another edit always carries the greater stamp, whatever the machines' wall clocks say.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable

# Clock keys that are not fields (field names cannot start with "_"):
DELETED_KEY = "_deleted"  # the stamp of a deletion, in a tombstone's clock
WRITTEN_KEY = "_written"  # when this version was written: it tells a recurring content apart


def field_stamps(clock: dict[str, str]) -> dict[str, str]:
    """The per-field stamps of a clock, without its bookkeeping keys."""
    return {k: v for k, v in clock.items() if not k.startswith("_")}


class HybridLogicalClock:
    # A stamp further ahead of the wall clock than this is used for comparisons but does
    # not drag the clock along, so one bad peer cannot push every later stamp into the future.
    MAX_DRIFT_MS = 3_600_000

    def __init__(self, node: str | None = None, wall: Callable[[], float] = time.time) -> None:
        self.node = node or secrets.token_hex(4)
        self._wall = wall
        self._ms = 0
        self._counter = 0
        self._lock = threading.Lock()

    def now(self) -> str:
        with self._lock:
            ms = int(self._wall() * 1000)
            if ms > self._ms:
                self._ms, self._counter = ms, 0
            else:
                self._counter += 1
                if self._counter > 0xFFFF:
                    self._ms, self._counter = self._ms + 1, 0
            return f"{self._ms:012x}{self._counter:04x}{self.node}"

    def observe(self, stamps: Iterable[str]) -> None:
        """Move the clock past every well-formed stamp in ``stamps``."""
        latest = max((s for s in stamps if is_stamp(s)), default=None)
        if latest is None:
            return
        ms, counter = int(latest[:12], 16), int(latest[12:16], 16)
        if ms > self._wall() * 1000 + self.MAX_DRIFT_MS:
            return
        with self._lock:
            if (ms, counter) > (self._ms, self._counter):
                self._ms, self._counter = ms, counter


def is_stamp(stamp: object) -> bool:
    if not isinstance(stamp, str) or len(stamp) < 16:
        return False
    try:
        int(stamp[:16], 16)
    except ValueError:
        return False
    return True
