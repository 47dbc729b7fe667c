"""Versions written by one multi-document transaction share a cluster time; each still
gets a position of its own. Needs a server with transactions (a replica set through
``MONGODB_URL``): the emulator has none, and the test is skipped there."""

from __future__ import annotations

import pytest
from mongo_server import watch_from_now  # tests/mongo_server.py
from pymongo.errors import OperationFailure

from .helpers import drain
from .mongo import client_of, database_of, eventually, stored

pytestmark = pytest.mark.backends("mongodb")


async def _has_transactions(client) -> bool:
    try:
        hello = await client.admin.command("hello")
    except OperationFailure:  # mongo-java-server has no hello (nor transactions)
        return False
    clustered = "setName" in hello or hello.get("msg") == "isdbgrid"
    return clustered and "logicalSessionTimeoutMinutes" in hello


async def test_the_versions_of_one_transaction_get_distinct_positions(new_url, open_store):
    url = new_url()
    client = client_of(url)
    try:
        if not await _has_transactions(client):
            pytest.skip("the server has no transactions: set MONGODB_URL to a replica set")
        store = await open_store(url)
        await store._running().start()  # following the stream before the transaction
        since = await store.checkpoint("Note")
        docs = database_of(client, url)["documents"]
        ids = [f"t{i}" for i in range(5)]
        stream = await watch_from_now(docs)

        async with client.start_session() as session, await session.start_transaction():
            for model_id in ids:
                await docs.insert_one(stored("Note", model_id, "v1"), session=session)

        times = []
        while len(times) < len(ids):
            event = await stream.try_next()
            if event is not None and event["operationType"] == "insert":
                times.append(event["clusterTime"])
        await stream.close()
        await eventually(lambda: _logged(store, since, len(ids)), "the transaction sequenced")
    finally:
        await client.close()

    assert len(set(times)) == 1  # what the positions must not tie on
    changes = await drain(store, "Note", since=since, limit=1)
    positions = [int(d.checkpoint.rpartition("-")[2]) for d in changes.docs]
    assert changes.ids == ids
    assert positions == sorted(set(positions))


async def _logged(store, since, count):
    return len((await drain(store, "Note", since=since)).docs) >= count
