"""A change-feed subscriber that falls too far behind is cut off: a ``feed.cut_off`` log
line and ``graphql_repl_feed_cut_off_total``, beside the feed's other counts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from graphql_repl import Repository, Settings, demo_registry
from graphql_repl.errors import FeedOverflow
from graphql_repl.metrics import Metrics
from graphql_repl.replication import ChangeType, Update

from .helpers import eventually

MAX_PENDING = 2


async def test_a_slow_subscriber_cut_off_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(store="sqlite:///:memory:", feed_max_pending=MAX_PENDING)
    async with Repository.from_settings(settings, demo_registry()) as repository:
        metrics = Metrics(repository)
        feed = repository.view().feed("Note", None, None, None, 60.0)
        waiting = asyncio.ensure_future(anext(feed))
        # Subscribed once its subscription is open (it joins the feed in the same step).
        await eventually(
            lambda: "Note" in repository.feeds() and repository.feeds()["Note"].open == 1,
            "the subscription",
        )
        with caplog.at_level(logging.INFO, logger="graphql_repl.replication.events"):
            # One transaction: one page of more changes than the subscriber may have pending.
            updates = [
                Update(f"n{i}", ChangeType.CREATE, {"id": f"n{i}"}) for i in range(MAX_PENDING + 1)
            ]
            await repository.model("Note").bulk_update(updates)
            with pytest.raises(FeedOverflow):
                await asyncio.wait_for(waiting, 20)
        (line,) = [r for r in caplog.records if getattr(r, "event", None) == "feed.cut_off"]
        assert getattr(line, "model", None) == "Note"
        assert getattr(line, "limit", None) == MAX_PENDING
        stats = repository.feeds()["Note"]
        assert (stats.cut_off, stats.published, stats.delivered) == (1, MAX_PENDING + 1, 0)
        registry = metrics.registry
        labels = {"model": "Note"}
        assert registry.get_sample_value("graphql_repl_feed_cut_off_total", labels) == 1
        assert registry.get_sample_value("graphql_repl_feed_events_total", labels) == 3
        assert registry.get_sample_value("graphql_repl_subscriptions", labels) == 0
        written = {"model": "Note", "via": "bulkUpdate", "status": "APPLIED"}
        assert registry.get_sample_value("graphql_repl_documents_written_total", written) == 3
