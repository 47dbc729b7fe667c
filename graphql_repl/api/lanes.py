"""The feed's fast lane: after its first event, a subscription writes its frames straight
to its WebSocket, without Strawberry's per-result machinery.

A subscription's first event (and any event the lane cannot render) goes through
Strawberry: executed for its group (``api/fanout.py``), sent by Strawberry's protocol
handler through the connection's adapter (``CheckedWebSocket.send_json``). The
subscription offers a ``Claim`` on that event before handing it to Strawberry; the
adapter, seeing the frame of shared data go out, fills the claim with the frame's
operation id and message type. From then on the subscription's own generator (still
running inside Strawberry's operation task, so a ``complete``, a closed connection, an
error it raises and the server's shutdown all end it as before) renders each event once
per group and writes the encoded frame itself, in order. An event whose result is not
plain shared data (errors, an awaitable result) goes through Strawberry again.

Two subscriptions of one connection waiting for the same event cannot be told apart by
their frames: neither claim is filled and both stay on Strawberry's path for that event.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .fanout import SHARED, SharedData, encode_frame

Write = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class Lane:
    """Where a subscription writes its frames: its operation id, the protocol's message
    type for a result (``next`` or ``data``) and the connection's writer."""

    operation_id: str
    kind: str
    write: Write
    source: SharedData  # a result of the subscription's group: its executor renders events

    def frame(self, event: object) -> str | None:
        """The frame of ``event`` for this subscription, or None when Strawberry must
        send it."""
        group = self.source.group
        if group is None:
            return None
        # Rendered for the group already: no executor to build.
        result = getattr(event, SHARED, {}).get(self.source.key)
        if result is None:
            result = group.build_per_event_executor(event).execute_operation(False)
        if inspect.isawaitable(result):  # an async field: left to Strawberry
            if inspect.iscoroutine(result):
                result.close()
            return None
        data = getattr(result, "data", None)
        if type(data) is not SharedData or getattr(result, "errors", None):
            return None
        return encode_frame(self.operation_id, self.kind, data)


@dataclass(slots=True)
class Claim:
    event: object
    lane: Lane | None = None


@dataclass
class Lanes:
    """One connection's claims waiting for their frames, and its writers (set by the
    connection's adapter; None where there is no WebSocket): ``write`` goes through ASGI,
    ``write_now`` writes in the caller's step where the server allows it
    (``connections.immediate_writer``)."""

    write: Write | None = None
    write_now: Callable[[str], bool] | None = None
    _waiting: dict[int, list[Claim]] = field(default_factory=dict)

    def offer(self, event: object) -> Claim | None:
        if self.write is None:
            return None
        claim = Claim(event)
        self._waiting.setdefault(id(event), []).append(claim)
        return claim

    def withdraw(self, claim: Claim) -> Lane | None:
        """The lane the claim's frame opened, if it did; the claim is forgotten."""
        waiting = self._waiting.get(id(claim.event))
        if waiting is not None and claim in waiting:
            waiting.remove(claim)
            if not waiting:
                del self._waiting[id(claim.event)]
        return claim.lane

    def sent(self, operation_id: str, kind: str, data: SharedData) -> None:
        """A frame of shared data went out (called by the adapter)."""
        waiting = self._waiting.pop(id(data.source), None)
        if self.write is None or waiting is None:
            return
        if len(waiting) == 1 and waiting[0].event is data.source:
            waiting[0].lane = Lane(operation_id, kind, self.write, data)
