"""What replication tells operators: each write of a batch (bulkUpdate or push) with its
counts by status, and every conflict recorded or resolved. Emitted by ``LocalModel``
through the repository's ``Events``; the feed's cut-offs come from ``feed``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..events import Event


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} {status.lower()}" for status, n in counts.items() if n) or "nothing"


@dataclass(frozen=True, slots=True)
class Written(Event):
    """A batch of updates settled: ``via`` is ``bulkUpdate`` or ``push``; ``counts`` has a
    count per status (APPLIED, UNCHANGED, MERGED, CONFLICT, REJECTED)."""

    kind = "replication.write"

    model: str
    via: str
    tenant: str | None
    counts: Mapping[str, int]

    def message(self) -> str:
        return f"{self.via} {self.model}: {_counts_text(self.counts)}"


@dataclass(frozen=True, slots=True)
class _OnDocument(Event):
    """An event about one document of a model (in the caller's ids and tenant)."""

    model: str
    model_id: str
    tenant: str | None


@dataclass(frozen=True, slots=True)
class ConflictRecorded(_OnDocument):
    """An update that could not be applied or merged: nothing written, the conflict kept."""

    kind = "replication.conflict"

    conflict_fields: tuple[str, ...]

    def message(self) -> str:
        where = f" (fields {', '.join(self.conflict_fields)})" if self.conflict_fields else ""
        return f"conflict recorded on {self.model} {self.model_id!r}{where}"


@dataclass(frozen=True, slots=True)
class ConflictResolved(_OnDocument):
    kind = "replication.resolved"

    using: str

    def message(self) -> str:
        return f"conflict on {self.model} {self.model_id!r} resolved using {self.using}"


@dataclass(frozen=True, slots=True)
class FeedCutOff(Event):
    """A subscriber of a model's change feed fell more than ``limit`` changes behind and
    was cut off (it can resubscribe from ``checkpoint``)."""

    kind = "feed.cut_off"
    level = logging.WARNING

    model: str
    checkpoint: str | None
    limit: int

    def message(self) -> str:
        return (
            f"a {self.model} change-feed subscriber fell more than {self.limit:,} changes "
            "behind and was cut off (GRAPHQL_REPL_FEED_MAX_PENDING)"
        )
