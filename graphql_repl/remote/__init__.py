"""The remote side: a model on another graphql_repl server, and replication between servers.

``RemoteModel`` (``client.py``) talks to one model on a remote server over GraphQL, as one
end of ``replicate()``, with its GraphQL documents in ``wire.py`` and its failures mapped and
retried in ``failures.py``; ``ReplicationJob`` (``job.py``) is what ``graphql-repl
replicate`` runs between two of them, reporting in ``progress.py``; ``StateFile``
(``statefile.py``) keeps where a job is, so the next run goes on from there.
"""

from .client import RemoteModel, graphql_url
from .failures import NO_RETRY, Retry
from .job import JobOptions, ReplicationJob
from .progress import Summary
from .statefile import State, StateFile

__all__ = [
    "NO_RETRY",
    "JobOptions",
    "RemoteModel",
    "ReplicationJob",
    "Retry",
    "State",
    "StateFile",
    "Summary",
    "graphql_url",
]
