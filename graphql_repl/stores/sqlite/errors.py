"""sqlite3's exceptions mapped to ours: the table, and the context manager that applies it."""

from __future__ import annotations

import contextlib
import logging
import sqlite3

from ..driver_errors import DriverError, mapped

log = logging.getLogger(__name__)


def _busy(exc: Exception) -> bool:
    """SQLITE_BUSY (another connection held the lock past the busy timeout) or
    SQLITE_LOCKED (a conflict inside the shared in-memory database), extended codes too."""
    return isinstance(exc, sqlite3.Error) and (exc.sqlite_errorcode & 0xFF) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


SQLITE_ERRORS = (
    DriverError(sqlite3.OperationalError, "The database is busy; try again", when=_busy),
    DriverError(sqlite3.Error, "The database operation failed"),
)


def driver_errors() -> contextlib.AbstractContextManager[None]:
    """Around sqlite3 calls: its exceptions become ``StoreError`` (see ``SQLITE_ERRORS``)."""
    return mapped(SQLITE_ERRORS, log)
