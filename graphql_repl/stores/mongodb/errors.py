"""PyMongo's exceptions mapped to ours."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pymongo.errors import ConnectionFailure, PyMongoError

from ...errors import ReplError, StoreError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """Map PyMongo's exceptions to ours, in this one place (credentials never logged)."""
    try:
        yield
    except ReplError:
        raise
    except ConnectionFailure as exc:
        log.error("MongoDB unreachable: %s", type(exc).__name__)
        raise StoreError("The database is unreachable; try again") from exc
    except PyMongoError as exc:
        log.exception("MongoDB operation failed")
        raise StoreError("The database operation failed") from exc
