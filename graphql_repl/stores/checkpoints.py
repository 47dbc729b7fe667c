"""Checkpoints: ``<store id>-<position>``, opaque to clients.

The store id makes a checkpoint from another store (or from a store that was recreated)
recognisable, so it is refused instead of silently skipping changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ..errors import BadCheckpoint

Row = TypeVar("Row")

MAX_DIGITS = 20  # positions are unsigned 64-bit at most


def encode_checkpoint(store_id: str, position: int) -> str:
    return f"{store_id}-{position}"


def decode_checkpoint(checkpoint: str | None, store_id: str, head: int) -> int:
    """The position a checkpoint names (0 for None), checked against this store's identity
    and the end of its log (``head``)."""
    if checkpoint is None:
        return 0
    issuer, _, number = checkpoint.rpartition("-")
    if not issuer or not (number.isascii() and number.isdigit()) or len(number) > MAX_DIGITS:
        raise BadCheckpoint(f"Malformed checkpoint {checkpoint[:80]!r}")
    if issuer != store_id:
        raise BadCheckpoint(
            "Checkpoint was issued by another store; start again without one", resync=True
        )
    position = int(number)
    if position > head:
        raise BadCheckpoint(
            "Checkpoint is ahead of this store's change log; start again without one",
            resync=True,
        )
    return position


def page_of(
    rows: Sequence[Row], positions: Sequence[int], limit: int, start: int, end: int
) -> tuple[Sequence[Row], int, bool]:
    """A page from ``limit + 1`` rows read in log order between ``start`` and ``end``: its
    rows, the position the next page starts after, and whether more remain."""
    has_more = len(rows) > limit
    return rows[:limit], (positions[limit - 1] if has_more else max(start, end)), has_more
