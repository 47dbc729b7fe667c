"""The SQLite store's token records (the ``tokens`` table)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ..tokens import TokenRecord, TokenStore

T = TypeVar("T")

COLUMNS = "token_id, secret_hash, role, tenant, created_at, expires_at, revoked_at"


class Run(Protocol):
    """Runs a function on a connection in a transaction, on one of the store's threads."""

    def __call__(self, fn: Callable[[sqlite3.Connection], T], /) -> Awaitable[T]: ...


class SQLiteTokens(TokenStore):
    """The ``tokens`` table, read and written through the store's threads."""

    def __init__(self, read: Run, write: Run) -> None:
        self._read = read
        self._write = write

    async def save(self, record: TokenRecord) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO tokens ({COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                dataclasses.astuple(record),
            )

        await self._write(run)

    async def get(self, token_id: str) -> TokenRecord | None:
        def run(conn: sqlite3.Connection) -> TokenRecord | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
            return None if row is None else TokenRecord(*row)

        return await self._read(run)

    async def list(self) -> list[TokenRecord]:
        def run(conn: sqlite3.Connection) -> list[TokenRecord]:
            rows = conn.execute(f"SELECT {COLUMNS} FROM tokens ORDER BY created_at, token_id")
            return [TokenRecord(*row) for row in rows]

        return await self._read(run)

    async def revoke(self, token_id: str, at: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            found = conn.execute(
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE token_id = ?",
                (at, token_id),
            )
            return found.rowcount > 0

        return await self._write(run)
