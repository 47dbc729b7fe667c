"""The sequencer's lease: one process sequences, the others stand by and take over; a
holder that lost the lease writes nothing. Several stores on one database stand for
several server processes."""

from __future__ import annotations

import asyncio
import time

import pytest

from graphql_repl.stores.mongodb.lease import Lease
from graphql_repl.stores.mongodb.state import LogState

from .helpers import drain, put, record
from .mongo import eventually
from .mongo import holder as lease_holder

pytestmark = pytest.mark.backends("mongodb")


def test_a_lease_is_free_once_unrenewed_for_its_ttl():
    lease = Lease("me")
    held = LogState(holder="other", term=3, beat=10)

    lease.observe(held, now=100.0)
    assert not lease.free(held, now=100.0 + lease.ttl)
    assert lease.free(held, now=100.1 + lease.ttl)
    lease.observe(LogState(holder="other", term=3, beat=11), now=103.0)  # renewed
    assert not lease.free(held, now=103.0 + lease.ttl)
    assert lease.free(LogState(holder=None, beat=12), now=103.0)  # released


def test_a_holder_acts_on_its_lease_for_less_than_a_standby_waits():
    lease = Lease("me")
    claim = lease.claim(LogState(holder="other", term=3, beat=10))
    assert (claim.holder, claim.term, claim.beat) == ("me", 4, 11)

    lease.wrote(claim, sent=50.0)
    assert lease.valid(50.0 + lease.ttl * lease.hold - 0.01)
    assert not lease.valid(50.0 + lease.ttl * lease.hold)
    assert lease.due(50.0 + lease.renew_every)
    assert lease.renew_every < lease.ttl * lease.hold < lease.ttl

    lease.observe(LogState(holder="third", term=5, beat=12), now=51.0)
    assert not lease.held()


async def _pair(url, open_store, ttl=None):
    """Two stores on one database, their sequencers started: (holder, standby)."""
    first, second = await open_store(url), await open_store(url)
    for store in (first, second):
        if ttl is not None:
            store._running().lease.ttl = ttl
            store._running().lease.renew_every = ttl / 4
        await store._running().start()
    assert first._running().lease.held()
    assert not second._running().lease.held()
    return first, second


def _position(checkpoint):
    return int(checkpoint.rpartition("-")[2])


async def test_one_process_sequences_and_the_others_get_their_writes_positions(new_url, open_store):
    holder, standby = await _pair(new_url(), open_store)

    written = [
        *(await put(standby, "Note", record("s1"), record("s2"))),
        *(await put(holder, "Note", record("h1"))),
        *(await put(standby, "Note", record("s3"))),
    ]

    changes = await drain(standby, "Note", limit=1)
    assert changes.ids == ["s1", "s2", "h1", "s3"]
    assert [d.checkpoint for d in changes.docs] == [d.checkpoint for d in written]
    assert await lease_holder(standby) == holder._running().lease.holder
    assert standby._running().status() is None


async def test_a_standby_takes_over_when_the_holder_stops_renewing(new_url, open_store):
    holder, standby = await _pair(new_url(), open_store)
    await put(holder, "Note", record("before"))

    holder._running()._task.cancel()  # no release: as if the process were killed
    stopped = time.monotonic()
    [after] = await put(standby, "Note", record("after"))
    took = time.monotonic() - stopped

    print(f"takeover (write through the standby acknowledged): {took:.2f} s")
    assert standby._running().lease.held()
    assert await lease_holder(standby) == standby._running().lease.holder
    changes = await drain(standby, "Note", limit=1)
    assert changes.ids == ["before", "after"]
    assert changes.docs[-1].checkpoint == after.checkpoint


async def test_a_holder_that_closes_hands_the_lease_on(new_url, open_store):
    holder, standby = await _pair(new_url(), open_store)

    await holder.close()

    assert await lease_holder(standby) is None
    await put(standby, "Note", record("n1"))
    assert standby._running().lease.held()


async def test_a_holder_paused_past_its_lease_assigns_nothing_when_it_comes_back(
    new_url, open_store
):
    """The holder stops (as in a long GC pause) with a version read and its position
    unwritten; the standby takes over and writes it. When the old holder comes back it
    must find out it lost the lease before writing any position."""
    paused, standby = await _pair(new_url(), open_store, ttl=0.6)
    sequencer = paused._running()
    gate, stopped = asyncio.Event(), asyncio.Event()
    sequence, write = sequencer._sequence, sequencer._write
    writes_after_pause: list[tuple[int, bool]] = []

    async def sequence_or_pause():
        if sequencer._ahead and not gate.is_set():
            stopped.set()
            await gate.wait()
        await sequence()

    async def spied_write(assignments, state):
        done = await write(assignments, state)
        if gate.is_set():
            writes_after_pause.append((len(assignments), done))
        return done

    sequencer._sequence, sequencer._write = sequence_or_pause, spied_write
    writing = asyncio.create_task(put(paused, "Note", record("p1")))
    await asyncio.wait_for(stopped.wait(), 30)
    await eventually(lambda: _is_holder(standby), "the standby took over")
    [s1] = await put(standby, "Note", record("s1"))
    gate.set()
    [p1] = await asyncio.wait_for(writing, 30)

    assert writes_after_pause
    assert all(count == 0 for count, _ in writes_after_pause)
    assert not any(done for _, done in writes_after_pause)
    assert not sequencer.lease.held()
    assert await lease_holder(paused) == standby._running().lease.holder
    changes = await drain(paused, "Note", limit=1)
    assert changes.ids == ["p1", "s1"]
    assert [d.checkpoint for d in changes.docs] == [p1.checkpoint, s1.checkpoint]
    assert _position(p1.checkpoint) < _position(s1.checkpoint)


async def _is_holder(store):
    return store._running().lease.held()
