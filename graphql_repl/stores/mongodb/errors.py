"""PyMongo's exceptions mapped to ours: the table, the context manager that applies it, and
the exceptions of the two calls whose errors need their own message (encoding a document,
reading the URL)."""

from __future__ import annotations

import contextlib
import logging

from bson.errors import BSONError
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from ..driver_errors import DriverError, mapped

log = logging.getLogger(__name__)


def _needs_replica_set(exc: Exception) -> bool:
    """A standalone server refusing what only a replica set does (a change stream: code
    40573, "The $changeStream stage is only supported on replica sets")."""
    return "replica set" in str(exc).lower()


MONGODB_ERRORS = (
    DriverError(
        OperationFailure,
        "MongoDB must run as a replica set: the change log is built on change streams "
        "(a one-member replica set will do; see the README)",
        when=_needs_replica_set,
    ),
    DriverError(ConnectionFailure, "The database is unreachable; try again", traceback=False),
    DriverError(PyMongoError, "The database operation failed"),
)

#: What ``bson.encode`` raises for content BSON cannot hold: a key it refuses
#: (``InvalidDocument``), an integer wider than 8 bytes, a string that is not valid Unicode.
UNSTORABLE = (BSONError, OverflowError, UnicodeEncodeError)

#: What ``parse_uri`` raises for a URL it cannot use (its ``InvalidURI`` is a
#: ``ConfigurationError``; a malformed port or host is a plain ``ValueError``).
INVALID_URL = (ConfigurationError, ValueError)


def driver_errors() -> contextlib.AbstractContextManager[None]:
    """Around PyMongo calls: its exceptions become ``StoreError`` (see ``MONGODB_ERRORS``)."""
    return mapped(MONGODB_ERRORS, log)
