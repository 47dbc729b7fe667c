"""The sequencer's positions, fed a recorded change stream with runs of equal cluster times.

The emulator never gives two events one cluster time; MongoDB does (every operation of one
transaction; two shards' events through mongos). So the stream is the one thing replaced
here, by a recording: every write of the sequencer, and every read of the store, still goes
to the MongoDB server.
"""

from __future__ import annotations

import itertools

import pytest
from bson import Timestamp

from .helpers import drain
from .mongo import Recording, client_of, database_of, eventually, recorded_sequencer, stored
from .mongo import holder as lease_holder

pytestmark = pytest.mark.backends("mongodb")

# Events per cluster time, in stream order.
RUNS = (3, 1, 4, 1, 5, 9, 2, 6)
START = Timestamp(2_000_000_000, 1)


def _plan() -> list[tuple[str, str]]:
    """(id, ver) of each event, in stream order: new notes, and some replaced again."""
    order = []
    for i in range(24):
        order.append((f"n{i:02d}", "a"))
        if i % 6 == 5:
            order.append((f"n{i - 4:02d}", "b"))
    order.append(("n01", "c"))  # n01 is replaced twice
    return order


PLAN = _plan()
TIMES = list(
    itertools.islice(
        (
            Timestamp(START.time + i, 7)
            for i, run in enumerate(itertools.cycle(RUNS))
            for _ in range(run)
        ),
        len(PLAN),
    )
)
# A document's position is the place of its latest version's event in the stream.
LATEST = {model_id: n for n, (model_id, _ver) in enumerate(PLAN, start=1)}
ORDER = sorted(LATEST, key=LATEST.__getitem__)
EVERY_EVENT = range(len(PLAN))


def test_the_recording_has_runs_of_equal_cluster_times():
    runs = [len(list(group)) for _, group in itertools.groupby(TIMES)]
    assert max(runs) > 1
    assert len(runs) < len(PLAN)


async def _play(store, recording, events=EVERY_EVENT):
    """Write the documents of ``events`` as the store would, and record their events."""
    url = store.url.secret
    client = client_of(url)
    try:
        docs = database_of(client, url)["documents"]
        for n in events:
            model_id, ver = PLAN[n]
            doc = stored("Note", model_id, ver, title=f"{model_id} {ver}")
            await docs.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            recording.add(doc, TIMES[n])
    finally:
        await client.close()


def _position(checkpoint):
    return int(checkpoint.rpartition("-")[2])


async def _logged(store, count):
    return _position(await store.checkpoint("Note")) >= count


async def _positions(store):
    return {d.model_id: _position(d.checkpoint) for d in (await drain(store, "Note")).docs}


@pytest.mark.parametrize("routed", [False, True], ids=["replica-set", "through-mongos"])
async def test_positions_are_unique_and_follow_the_stream_through_ties(new_url, open_store, routed):
    store = await open_store(new_url())
    recording = Recording(START)
    recorded_sequencer(store, recording, routed=routed)
    await store._running().start()

    await _play(store, recording)
    await eventually(lambda: _logged(store, len(PLAN)), "every event sequenced")

    assert await _positions(store) == LATEST
    for limit in (1, 7):
        changes = await drain(store, "Note", limit=limit)
        positions = [_position(d.checkpoint) for d in changes.docs]
        assert changes.ids == ORDER  # every version once, the latest of each document
        assert positions == sorted(set(positions))
        assert all(d.rev == f"{d.model_id}@{PLAN[LATEST[d.model_id] - 1][1]}" for d in changes.docs)


async def test_two_sequencers_fed_the_same_stream_give_the_same_positions(new_url, open_store):
    """A reference store with one sequencer, and a store with two (two processes, as it
    were): the holder is stopped dead after a third of the stream; the other, which read
    the next third as a standby, takes over and writes it, then the last third. Every
    position is the one the reference gave."""
    reference = await open_store(new_url())
    recorded_sequencer(reference, reference_recording := Recording(START))
    await reference._running().start()
    await _play(reference, reference_recording)
    await eventually(lambda: _logged(reference, len(PLAN)), "the reference sequenced")

    url = new_url()
    first, second = await open_store(url), await open_store(url)
    recording = Recording(START)
    for store in (first, second):
        recorded_sequencer(store, recording, states=True, ttl=0.5)
        await store._running().start()
    third = len(PLAN) // 3
    await _play(first, recording, range(third))
    await eventually(lambda: _logged(first, third), "the first third sequenced")

    crashed = first if first._running().lease.held() else second
    survivor = second if crashed is first else first
    crashed._running()._task.cancel()  # no release: as if the process were killed
    await _play(first, recording, range(third, 2 * third))
    await eventually(lambda: _logged(survivor, 2 * third), "the second third sequenced")
    assert survivor._running().lease.held()
    await _play(first, recording, range(2 * third, len(PLAN)))
    await eventually(lambda: _logged(survivor, len(PLAN)), "the last third sequenced")

    assert await lease_holder(survivor) == survivor._running().lease.holder
    assert await _positions(survivor) == await _positions(reference) == LATEST
    assert (await drain(survivor, "Note", limit=7)).ids == ORDER
