"""What a replication between two servers has done so far: its ``Summary`` (counts per
status, conflicts left, updates refused) and its ``Progress`` display."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from ..replication import CheckpointPair, UpdateStatus
from ..wording import plural

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What a run did: counts per status, the conflicts left, the updates refused."""

    model: str
    target_model: str
    counts: Counter[UpdateStatus] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)  # left unresolved on the target
    rejected: dict[str, str] = field(default_factory=dict)  # id -> the target's reason
    resolved: int = 0
    resynced: bool = False
    stopped: bool = False
    checkpoints: CheckpointPair = field(default_factory=CheckpointPair)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def label(self) -> str:
        """``Note``, or ``Note -> Other`` when the target's model has another name."""
        if self.model == self.target_model:
            return self.model
        return f"{self.model} -> {self.target_model}"

    @property
    def read(self) -> int:
        """How many changes were read from the source (and sent to the target)."""
        return sum(self.counts.values())

    @property
    def seconds(self) -> float:
        """How long the run took (so far, while it runs)."""
        return (self.finished or time.monotonic()) - self.started

    def counts_text(self) -> str:
        """The counts per status, as ``1,200 applied, 3 conflict``."""
        return ", ".join(
            f"{self.counts[status]:,} {status.value.lower()}"
            for status in UpdateStatus
            if self.counts[status] or status is UpdateStatus.APPLIED
        )

    def as_json(self) -> dict[str, Any]:
        """The summary as ``replicate --json`` prints it."""
        return {
            "model": self.model,
            "targetModel": self.target_model,
            "changes": self.read,
            **{status.value.lower(): self.counts[status] for status in UpdateStatus},
            "conflictIds": self.conflicts,
            "rejectedIds": sorted(self.rejected),
            "resolved": self.resolved,
            "resynced": self.resynced,
            "stopped": self.stopped,
            "checkpoints": {
                "source": self.checkpoints.source,
                "target": self.checkpoints.target,
            },
            "seconds": round(self.seconds, 3),
        }


class Progress:
    """A progress bar on a terminal (tqdm), else a log line every ``interval`` seconds
    while there is progress to tell, and (``heartbeat``) at least every ``quiet`` seconds
    while there is none, so that a log shows the run is alive."""

    def __init__(self, summary: Summary, interactive: bool, interval: float = 5.0) -> None:
        self.summary = summary
        self.interval = interval
        self.bar: tqdm[Any] | None = None
        if interactive:
            self.bar = tqdm(desc=summary.label, unit=" docs", file=sys.stderr, dynamic_ncols=True)
        self._last_time = time.monotonic()
        self._last_read = 0

    def update(self, done: int) -> None:
        """``done`` more changes were applied."""
        if self.bar is not None:
            self.bar.update(done)
            self.bar.set_postfix_str(self.summary.counts_text(), refresh=False)
            return
        now = time.monotonic()
        if now - self._last_time >= self.interval and self.summary.read > self._last_read:
            self.report("copying")

    def report(self, state: str) -> None:
        """Log where the run is: ``state`` (copying, following), the counts and the rate
        since the last line (the line's fields, in a JSON log)."""
        summary, now = self.summary, time.monotonic()
        rate = (summary.read - self._last_read) / max(now - self._last_time, 1e-9)
        log.info(
            "%s: %s; %s (%s docs/s)",
            summary.label,
            state,
            self._postfix(),
            f"{rate:,.0f}",
            extra={
                "event": "replicate.progress",
                "state": state,
                "model": summary.model,
                "target_model": summary.target_model,
                "changes": summary.read,
                "counts": {s.value: summary.counts[s] for s in UpdateStatus},
                "rate": round(rate, 1),
            },
        )
        self._last_time, self._last_read = now, summary.read

    async def heartbeat(self, quiet: float, state: str) -> None:
        """Log a line whenever ``quiet`` seconds passed without one (no bar: a terminal
        shows the bar instead); runs until cancelled."""
        while self.bar is None:
            await asyncio.sleep(max(0.0, self._last_time + quiet - time.monotonic()))
            if time.monotonic() - self._last_time >= quiet:
                self.report(state)

    def _postfix(self) -> str:
        return f"{self.summary.read:,} {plural(self.summary.read, 'change')}: " + (
            self.summary.counts_text()
        )

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
