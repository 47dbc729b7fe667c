"""What ``MongoStore.open`` checks and creates: change streams, the indexes, the store's
identity and schema version, and the sequencer's state (migrating older stores in place).

Schema versions: 1 kept the watermark and the stream's resume token in ``meta`` and used
each event's cluster time as its position; 2 keeps them in the sequencer's state document
(``state``) and counts positions along the stream (``positions``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.server_type import SERVER_TYPE

from ...errors import StoreError
from .state import LogState, create_state
from .stream import Streams

log = logging.getLogger(__name__)

Row = dict[str, Any]

SCHEMA_VERSION = 2

#: The shard key of the documents collection on a sharded cluster. Every query and write
#: of the store names ``model`` and most name ``_id``: a write goes to one shard, a model's
#: log and typed reads to the shards that hold its documents, which the hashed ``_id``
#: spreads evenly. A document's ``_id`` starts with its model, so one ``_id`` has one
#: shard key value: ``_id`` stays unique across shards.
SHARD_KEY = {"model": 1, "_id": "hashed"}

#: The indexes, by collection (creating one that exists does nothing). On ``documents``:
#: the log (``changes`` pages by model and position; recovery's highest position and
#: versions without one, per model) and the typed reads (``find`` by model, in id order).
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "documents": [[("model", 1), ("seq", 1)], [("model", 1), ("id", 1)]],
    "conflicts": [[("model", 1), ("model_id", 1)]],
}


async def prepare(
    client: AsyncMongoClient[Row], db: AsyncDatabase[Row], streams: Streams, host: str
) -> str:
    """Check the server and set the database up; returns the store's id. Raises
    ``StoreError`` for a server without change streams and for an unknown schema."""
    await require_change_streams(client, streams, host)
    for collection, indexes in INDEXES.items():
        for keys in indexes:
            await db[collection].create_index(keys)
    meta = db["meta"]
    await meta.update_one(
        {"_id": "store"},
        {"$setOnInsert": {"store_id": uuid.uuid4().hex[:16], "schema": SCHEMA_VERSION}},
        upsert=True,
    )
    store = await meta.find_one({"_id": "store"})
    assert store is not None  # just upserted
    if store["schema"] == 1:
        await migrate_from_1(db)
    elif store["schema"] != SCHEMA_VERSION:
        raise StoreError(
            f"The store has schema version {store['schema']}; this server expects {SCHEMA_VERSION}"
        )
    await create_state(db["documents"], LogState())
    return str(store["store_id"])


def routed(client: AsyncMongoClient[Row]) -> bool:
    """Whether the client talks to a sharded cluster, through mongos (once connected)."""
    servers = client.topology_description.server_descriptions().values()
    return any(server.server_type == SERVER_TYPE.Mongos for server in servers)


async def require_change_streams(
    client: AsyncMongoClient[Row], streams: Streams, host: str
) -> None:
    """Raise ``StoreError`` at once for a standalone server: the change log is built on
    change streams, which only replica sets and sharded clusters have."""
    await client.admin.command("ping")  # connects: the topology then knows the server's type
    servers = client.topology_description.server_descriptions().values()
    if all(server.server_type != SERVER_TYPE.Standalone for server in servers):
        return
    # mongo-java-server says it is standalone, yet has change streams when its oplog is on.
    try:
        source = await streams.open(start_at=await streams.now())
    except OperationFailure:
        raise StoreError(
            f"MongoDB at {host} is a standalone server, without the change streams the store "
            "needs: run it as a replica set (one member will do: mongod --replSet rs0, then "
            "rs.initiate()); see the README's MongoDB section"
        ) from None
    await source.close()


async def migrate_from_1(db: AsyncDatabase[Row]) -> None:
    """Schema 1 to 2, in place; safe to repeat if interrupted, and by several processes at
    once. Every stored position stays (so every checkpoint issued stays valid): the state
    starts with schema 1's watermark and no resume point, so the first holder recovers,
    counting on above the highest position stored. Servers of schema 1 must be stopped
    first: they refuse the store once it is migrated, but not while they run."""
    meta = db["meta"]
    old = await meta.find_one({"_id": "watermark"})
    await create_state(db["documents"], LogState(pos=int(old["pos"]) if old else 0))
    await meta.delete_many({"_id": {"$in": ["watermark", "sequencer"]}})
    await meta.update_one({"_id": "store", "schema": 1}, {"$set": {"schema": SCHEMA_VERSION}})
    log.info("Store migrated from schema 1 to %d", SCHEMA_VERSION)
