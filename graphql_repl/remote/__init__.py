"""The remote side: a model on another graphql_repl server, and replication between servers.

``RemoteModel`` (``client.py``) talks to one model on a remote server over GraphQL, as one
end of ``replicate()``; ``ReplicationJob`` (``job.py``) is what ``graphql-repl replicate``
runs between two of them; ``StateFile`` (``statefile.py``) keeps where a job is, so the next
run goes on from there.
"""

from .client import NO_RETRY, RemoteModel, Retry, graphql_url
from .job import JobOptions, ReplicationJob, Summary
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
