"""sqlite3's exceptions mapped to ours."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator

from ...errors import ReplError, StoreError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """Map sqlite3's exceptions to ours, in this one place."""
    try:
        yield
    except ReplError:
        raise
    except sqlite3.OperationalError as exc:
        log.exception("SQLite operation failed")
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError("The database is busy; try again") from exc
        raise StoreError("The database operation failed") from exc
    except sqlite3.Error as exc:
        log.exception("SQLite error")
        raise StoreError("The database operation failed") from exc
