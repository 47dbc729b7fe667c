"""The sequencer's lease: which process writes positions, and when another takes over.

One process holds the lease (the state's ``holder`` and ``term``) and sequences; the others
follow the same change stream as standbys, computing the same positions without writing
them, and report their own writes' positions once the holder's state covers them. Every
write of the state raises its ``beat``. The holder writes it at least every
``renew_every`` seconds (a batch's state, or a renewal when idle). A standby that has seen
no new beat for ``ttl`` seconds by its own monotonic clock takes over, with a
compare-and-swap on the ``term`` and ``beat`` it saw, so it fails if the holder wrote
meanwhile. No clocks are compared across machines: the holder counts its lease from when
it *sent* the write a standby counts from *seeing*, and gives it up earlier
(``ttl * hold``), so two processes never both act on the lease unless a clock runs far
slow or a process stops between its check and its write.

Correctness does not rest on the lease. Positions are a function of the stream
(``positions``), so two processes that both think they hold it write the same positions,
and the holder's state writes are fenced on its term (``state.fence``): one that lost the
lease cannot move the watermark or the resume point. The lease only saves every other
process the work and the round trips.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from .state import LogState


def identity() -> str:
    """This process, as a lease holder: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """This process's view of the lease. Times are ``time.monotonic()`` seconds."""

    #: A holder that stops writing the state is replaced within about this many seconds.
    ttl = 3.0
    #: The longest a holder goes without writing the state.
    renew_every = 1.0
    #: The share of ``ttl`` after its last write for which a holder acts on the lease.
    hold = 2 / 3

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self._term: int | None = None  # the term this process holds
        self._written = 0.0  # when this process sent its last successful write of the state
        self._beat = -1  # the newest beat seen ...
        self._seen = 0.0  # ... and when it was first seen

    def observe(self, state: LogState, now: float) -> None:
        """``state`` was read or written (in the stream, or by a read)."""
        if state.beat != self._beat:
            self._beat, self._seen = state.beat, now
        if self._term is not None and (state.holder, state.term) != (self.holder, self._term):
            self._term = None  # taken over

    def held(self) -> bool:
        return self._term is not None

    def quiet_for(self, now: float) -> float:
        """Seconds since the holder's last write of the state was seen (this process's
        own writes included): how far the sequencing may be behind (0 before any)."""
        return 0.0 if self._beat < 0 else max(0.0, now - self._seen)

    def valid(self, now: float) -> bool:
        """Held, and recently enough written that no standby can have taken it over."""
        return self.held() and now < self._written + self.ttl * self.hold

    def due(self, now: float) -> bool:
        """Held, and to be written now to stay held."""
        return self.held() and now >= self._written + self.renew_every

    def free(self, state: LogState, now: float) -> bool:
        """Not held here, and released or not renewed for ``ttl`` seconds."""
        return not self.held() and (state.holder is None or now - self._seen > self.ttl)

    def claim(self, state: LogState) -> LogState:
        """The state that takes the lease over from ``state``."""
        return state.next(holder=self.holder, term=state.term + 1, expires=self.expiry())

    def expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.ttl)

    def wrote(self, state: LogState, sent: float) -> None:
        """A write of ``state`` by this process, sent at ``sent``, succeeded."""
        self._term, self._written = state.term, sent
        self.observe(state, sent)

    def lost(self) -> None:
        self._term = None

    def status(self, state: LogState, now: float) -> str | None:
        """None when a sequencer is known to be working (this process, or a holder that
        renews the lease), else a one-line reason."""
        if self.valid(now):
            return None
        if self.held():
            return (
                "This process holds the sequencer's lease but has not renewed it for "
                f"{now - self._written:.0f} s"
            )
        if state.holder is None:
            return "No process holds the sequencer's lease"
        if now - self._seen <= self.ttl:
            return None
        return (
            f"The sequencer's lease (held by {state.holder}) has not been renewed for "
            f"{now - self._seen:.0f} s"
        )
