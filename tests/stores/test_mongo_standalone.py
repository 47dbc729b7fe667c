"""A MongoDB without change streams (a standalone server) is refused when the store opens,
with one line that names the server and how to fix it. The emulator started without its
oplog stands for one: it cannot open a change stream."""

from __future__ import annotations

from collections.abc import Iterator

import mongo_server  # tests/mongo_server.py (pytest puts tests/ on sys.path)
import pytest
from pymongo import AsyncMongoClient

from graphql_repl.errors import StoreError
from graphql_repl.stores import StoreURL, create_store
from graphql_repl.stores.mongodb.schema import require_change_streams
from graphql_repl.stores.mongodb.stream import ChangeStreams


@pytest.fixture(scope="module")
def standalone() -> Iterator[int]:
    """The port of an emulator without an oplog."""
    try:
        server = mongo_server.start(oplog=False)
    except mongo_server.MongoServerError as exc:
        pytest.skip(f"no emulator: {exc}")
    mongo_server.lower_pymongo_min_wire_version()
    try:
        yield server.port
    finally:
        mongo_server.restore_pymongo_min_wire_version()
        server.stop()


async def test_a_standalone_server_is_refused_at_open_in_one_line(standalone):
    store = create_store(f"mongodb://127.0.0.1:{standalone}/app?directConnection=true")

    with pytest.raises(StoreError) as refused:
        await store.open()

    message = refused.value.message
    assert "\n" not in message
    assert f"127.0.0.1:{standalone}" in message
    assert "standalone" in message
    assert "replica set" in message
    assert "README" in message
    with pytest.raises(StoreError):  # nothing was left open
        await store.checkpoint("Note")


async def test_the_refusal_names_the_host_but_not_the_credentials(standalone):
    url = StoreURL(f"mongodb://app:s3cret@127.0.0.1:{standalone}/app")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{standalone}/?directConnection=true"
    )
    try:
        streams = ChangeStreams(client, client["app"]["documents"])
        with pytest.raises(StoreError) as refused:
            await require_change_streams(client, streams, url.host)
    finally:
        await client.close()

    assert f"127.0.0.1:{standalone}" in refused.value.message
    assert "s3cret" not in refused.value.message
    assert "app:" not in refused.value.message
