"""Driver exceptions mapped to ours, the way httpx maps httpcore's.

Each backend lists, in one table, the driver exceptions it expects and what each becomes:
one of our errors with a message safe to show (a driver's own text may name files, hosts
or credentials). ``mapped(table, log)`` applies a table around driver calls. The first row
that matches wins, so rows go from the most specific class to the least, as except clauses
do; our own errors, and exceptions that no row matches, pass through unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..errors import ReplError, StoreError


@dataclass(frozen=True, slots=True)
class DriverError:
    """One row of a table: a driver exception class and what it becomes."""

    driver: type[Exception]
    message: str
    error: type[ReplError] = StoreError
    #: Log the driver's exception with its traceback; False: only its class name, for
    #: exceptions whose text may hold credentials (a connection error names the URL).
    traceback: bool = True
    #: Narrows the row to some exceptions of the class (None: all of them).
    when: Callable[[Exception], bool] | None = None

    def matches(self, exc: Exception) -> bool:
        return isinstance(exc, self.driver) and (self.when is None or self.when(exc))


@contextlib.contextmanager
def mapped(table: Sequence[DriverError], log: logging.Logger) -> Iterator[None]:
    """Raise the error of the first row of ``table`` that matches, from the driver's."""
    try:
        yield
    except ReplError:
        raise
    except Exception as exc:
        row = next((row for row in table if row.matches(exc)), None)
        if row is None:
            raise
        if row.traceback:
            log.exception("%s (%s)", row.message, type(exc).__name__)
        else:
            log.error("%s (%s)", row.message, type(exc).__name__)
        raise row.error(row.message) from exc
