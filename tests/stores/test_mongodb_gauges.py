"""The MongoDB store's gauges (exported as ``graphql_repl_store_<name>``): the sequencer's
lag, read from a store that is sequencing writes."""

from __future__ import annotations

import pytest

from graphql_repl.stores import create_store
from graphql_repl.stores.base import StoredDoc, WriteBatch


@pytest.mark.backends("mongodb")
async def test_the_sequencer_reports_its_lag_and_its_lease(new_url):
    store = create_store(new_url())
    await store.open()
    try:
        doc = StoredDoc("g1", "r1", None, {"id": "g1"}, {}, [])
        await store.transact("Note", ["g1"], lambda current, pending: (WriteBatch([doc]), None))
        gauges = store.gauges()
        assert gauges["sequencer_lease_held"] == 1.0
        assert gauges["sequencer_unsequenced_writes"] == 0.0  # the write has its position
        assert 0.0 <= gauges["sequencer_seconds_behind"] < 3.0
    finally:
        await store.close()
