"""Driver exceptions reach callers as our errors, through each backend's one table."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from graphql_repl.errors import BadInput, StoreError
from graphql_repl.stores import StoreURL
from graphql_repl.stores.driver_errors import DriverError, mapped
from graphql_repl.stores.sqlite import SQLiteStore

from .helpers import put, record

log = logging.getLogger(__name__)

TABLE = (
    DriverError(KeyError, "missing", when=lambda exc: exc.args == ("special",)),
    DriverError(LookupError, "lookup failed", error=BadInput),
    DriverError(Exception, "anything else", traceback=False),
)


def test_the_first_matching_row_gives_the_error_and_its_message():
    with pytest.raises(StoreError, match=r"^missing$") as special, mapped(TABLE, log):
        raise KeyError("special")
    with pytest.raises(BadInput, match=r"^lookup failed$") as other, mapped(TABLE, log):
        raise KeyError("other")

    assert isinstance(special.value.__cause__, KeyError)
    assert isinstance(other.value.__cause__, KeyError)


def test_our_own_errors_and_unlisted_exceptions_pass_through():
    with pytest.raises(BadInput, match="ours"), mapped(TABLE, log):
        raise BadInput("ours")
    with pytest.raises(KeyboardInterrupt), mapped(TABLE, log):
        raise KeyboardInterrupt


def test_a_row_without_traceback_logs_only_the_class_name(caplog):
    with pytest.raises(StoreError), mapped(TABLE, log):
        raise RuntimeError("mongodb://user:secret@host")

    assert "secret" not in caplog.text
    assert "anything else (RuntimeError)" in caplog.text


async def test_sqlite_lock_held_elsewhere_is_a_busy_store_error(tmp_path: Path):
    path = tmp_path / "store.db"
    store = SQLiteStore(StoreURL(f"sqlite:///{path}"), busy_timeout=0.1)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="busy; try again"):
            await put(store, "Note", record("n1"))
    finally:
        other.close()
        await store.close()
