"""Replication rules: change log, diff, bulk update, replicate, conflicts and clocks.

Knows nothing of GraphQL; the API layer is a thin adapter over ``Repository``. One module
per step: ``tenancy`` (a caller's scope: which documents, under which ids), ``changelog``
(changes since a checkpoint), ``diff``, ``bulk`` (the bulk-update engine: prepare, decide,
settle), ``versions`` (how a new record succeeds the current one), ``conflicts``,
``documents`` (typed web-app writes), ``push`` (RxDB's push, settled against the master
state), ``feed`` (the live change feed), ``replicate``;
``local.LocalModel`` runs them for one model and one caller, ``repository`` holds the
models of a server and hands out each caller's ``View``.
"""

from .clocks import HybridLogicalClock
from .local import LocalModel
from .push import Pushed, PushRow
from .replicate import ChangesQuery, Endpoint, replicate
from .repository import Repository, View
from .revisions import rev_of
from .tenancy import TenantScope
from .types import (
    BulkUpdateResult,
    Change,
    ChangeInput,
    ChangePage,
    ChangeType,
    CheckpointPair,
    Conflict,
    Diff,
    DocumentState,
    ReplicationResult,
    Resolution,
    StatePage,
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
    "ChangesQuery",
    "CheckpointPair",
    "Conflict",
    "Diff",
    "DocumentState",
    "Endpoint",
    "HybridLogicalClock",
    "LocalModel",
    "PushRow",
    "Pushed",
    "ReplicationResult",
    "Repository",
    "Resolution",
    "StatePage",
    "TenantScope",
    "Update",
    "UpdateResult",
    "UpdateStatus",
    "View",
    "replicate",
    "rev_of",
]
