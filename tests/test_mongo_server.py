"""The MongoDB the tests use (``mongodb_url``) works: writes, reads and change streams."""

from __future__ import annotations

import asyncio
import uuid

from mongo_server import watch_from_now
from pymongo import AsyncMongoClient


async def test_insert_read_back_and_watch(mongodb_url: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        mongodb_url, serverSelectionTimeoutMS=10_000
    )
    database = client[f"smoke_{uuid.uuid4().hex[:12]}"]
    try:
        notes = database["notes"]
        await notes.insert_one({"_id": "n1", "title": "Hello"})
        assert await notes.find_one({"_id": "n1"}) == {"_id": "n1", "title": "Hello"}

        async with await watch_from_now(notes) as stream:
            await notes.insert_one({"_id": "n2", "title": "Watched"})
            event = None
            async with asyncio.timeout(10):
                while event is None:
                    event = await stream.try_next()
                    if event is None:
                        await asyncio.sleep(0.05)
            assert event["operationType"] == "insert"
            assert event["documentKey"] == {"_id": "n2"}
            assert event["fullDocument"] == {"_id": "n2", "title": "Watched"}
            assert await stream.try_next() is None  # exactly one event
    finally:
        await client.drop_database(database.name)
        await client.close()
