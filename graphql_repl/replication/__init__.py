"""Replication rules: change log, diff, bulk update, replicate, conflicts and clocks.

Knows nothing of GraphQL; the API layer is a thin adapter over ``Repository``.
"""

from .clocks import HybridLogicalClock
from .local import LocalModel
from .replicate import Endpoint, replicate
from .repository import Repository
from .revisions import rev_of
from .types import (
    BulkUpdateResult,
    Change,
    ChangeInput,
    ChangePage,
    ChangeType,
    CheckpointPair,
    Conflict,
    Diff,
    ReplicationResult,
    Resolution,
    Update,
    UpdateResult,
    UpdateStatus,
)

__all__ = [
    "BulkUpdateResult",
    "Change",
    "ChangeInput",
    "ChangePage",
    "ChangeType",
    "CheckpointPair",
    "Conflict",
    "Diff",
    "Endpoint",
    "HybridLogicalClock",
    "LocalModel",
    "ReplicationResult",
    "Repository",
    "Resolution",
    "Update",
    "UpdateResult",
    "UpdateStatus",
    "replicate",
    "rev_of",
]
