"""The MongoDB store's token records (the ``tokens`` collection)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from ..tokens import TokenRecord, TokenStore
from .errors import driver_errors


class MongoTokens(TokenStore):
    """The ``tokens`` collection (a record's ``_id`` is its token id)."""

    def __init__(self, collection: Callable[[], AsyncCollection[dict[str, Any]]]) -> None:
        self._collection = collection

    async def save(self, record: TokenRecord) -> None:
        with driver_errors():
            row = dataclasses.asdict(record)
            row["_id"] = row.pop("token_id")
            await self._collection().insert_one(row)

    async def get(self, token_id: str) -> TokenRecord | None:
        with driver_errors():
            row = await self._collection().find_one({"_id": token_id})
        return None if row is None else _token(row)

    async def list(self) -> list[TokenRecord]:
        with driver_errors():
            cursor = self._collection().find({}, sort=[("created_at", 1), ("_id", 1)])
            return [_token(row) async for row in cursor]

    async def revoke(self, token_id: str, at: float) -> bool:
        with driver_errors():
            found = await self._collection().find_one({"_id": token_id}, {"_id": 1})
            if found is None:
                return False
            await self._collection().update_one(
                {"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
            )
        return True


def _token(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        row["_id"],
        row["secret_hash"],
        row["role"],
        row["tenant"],
        row["created_at"],
        row.get("expires_at"),
        row.get("revoked_at"),
    )
