"""Prometheus metrics of one server (``GET /metrics``), through prometheus-client.

Each app has a registry of its own (not the library's global one), so several apps can
run in one process. Counters follow the repository's ``Events`` as they happen; what is
cheaper to read than to track (the feeds' counts, open conflicts, the log's head, the
store's own gauges) is read when Prometheus scrapes (``refresh``, then ``render``).

Under ``serve --workers N`` each worker is a process of its own and a scrape reaches one of
them: prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the
supervisor) sums the counters of every worker. What the store says is the same from any
worker; the feeds' counts, which each worker keeps in memory, are copied into the shared
files every ``FEED_SYNC_INTERVAL`` seconds (``sync_feeds``) and when scraped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .api.events import Operation, TokenRefused, WebSocketClosed, WebSocketOpened
from .errors import StoreError
from .events import Event
from .replication import Repository
from .replication.events import ConflictRecorded, ConflictResolved, Written
from .replication.feed import FeedStats
from .stores.checkpoints import decode_checkpoint

PREFIX = "graphql_repl"
# Operation latencies, in seconds: from a cached read to a large bulk update.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: prometheus-client's variable naming the directory its multiprocess mode shares.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between copies of a worker's feed counts into the shared files.
FEED_SYNC_INTERVAL = 1.0
#: The feeds' counters: metric name, help, ``FeedStats`` attribute.
FEED_COUNTERS = (
    ("feed_events", "Changes the change feeds published.", "published"),
    ("feed_deliveries", "Changes delivered to feed subscribers.", "delivered"),
    ("feed_cut_off", "Subscribers cut off as too slow (FeedOverflow).", "cut_off"),
    (
        "feed_direct_deliveries",
        "Of the deliveries, those the feed wrote as it published them (no task woken).",
        "direct",
    ),
)
SUBSCRIPTIONS_HELP = "Feed subscriptions open (changeFeed and stream<Model>), by model."


@dataclass
class _Scraped:
    """What ``refresh`` read from the store for the next scrape."""

    up: bool = False
    open_conflicts: dict[str, int] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)


class Metrics:
    """The metrics of the server over ``repository``."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        #: How long a scrape waits for the store.
        self.timeout = repository.settings.connect_timeout
        self.registry = CollectorRegistry()
        r = self.registry
        self.operations = Counter(
            f"{PREFIX}_operations",
            "GraphQL operations by type, root field and outcome (ok or the error code).",
            ["type", "field", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_operation_duration_seconds",
            "How long queries and mutations took, by type and root field.",
            ["type", "field"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            f"{PREFIX}_auth_failures",
            "Requests and connections refused for their token, by reason.",
            ["reason"],
            registry=r,
        )
        self.written = Counter(
            f"{PREFIX}_documents_written",
            "Documents of bulkUpdate and push by outcome (push: a row kept for its pusher "
            "counts as CONFLICT, a refused row as REJECTED).",
            ["model", "via", "status"],
            registry=r,
        )
        self.conflicts = Counter(
            f"{PREFIX}_conflicts_recorded", "Conflicts recorded.", ["model"], registry=r
        )
        self.resolved = Counter(
            f"{PREFIX}_conflicts_resolved", "Conflicts resolved.", ["model"], registry=r
        )
        self.resyncs = Counter(
            f"{PREFIX}_resyncs",
            "Requests answered that the caller must start again without a checkpoint.",
            registry=r,
        )
        self.websockets = Gauge(
            f"{PREFIX}_websocket_connections",
            "WebSocket connections open.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.scraped = _Scraped()
        #: Whether the counts are shared with other worker processes (see the module).
        self.multiprocess = MULTIPROC_DIR in os.environ
        self._synced: dict[str, FeedStats] = {}
        if self.multiprocess:
            self.feed_counters = {
                attribute: Counter(f"{PREFIX}_{name}", doc, ["model"], registry=r)
                for name, doc, attribute in FEED_COUNTERS
            }
            self.subscriptions = Gauge(
                f"{PREFIX}_subscriptions",
                SUBSCRIPTIONS_HELP,
                ["model"],
                registry=r,
                multiprocess_mode="livesum",
            )
        r.register(_ScrapeTime(self))
        repository.events.listen(self.on_event)

    def on_event(self, event: Event) -> None:
        """Count ``event`` (a listener of the repository's ``Events``)."""
        match event:
            case Operation():
                for name, outcome in event.outcomes.items():
                    self.operations.labels(event.operation_type, name, outcome).inc()
                    if event.operation_type in ("query", "mutation"):
                        seconds = event.duration_ms / 1000
                        self.latency.labels(event.operation_type, name).observe(seconds)
                if event.auth_failure is not None:
                    self.auth_failures.labels(event.auth_failure).inc()
                if event.resync:
                    self.resyncs.inc()
            case Written():
                for status, count in event.counts.items():
                    if count:
                        self.written.labels(event.model, event.via, status).inc(count)
            case ConflictRecorded():
                self.conflicts.labels(event.model).inc()
            case ConflictResolved():
                self.resolved.labels(event.model).inc()
            case TokenRefused():
                self.auth_failures.labels(event.reason).inc()
            case WebSocketOpened():
                self.websockets.inc()
            case WebSocketClosed():
                self.websockets.dec()

    async def refresh(self) -> None:
        """Read what the next scrape reports from the store (within ``timeout`` seconds;
        a store that does not answer is reported as down)."""
        timeout = self.timeout
        repository = self.repository
        store = repository.store
        scraped = _Scraped(gauges=dict(store.gauges()))
        try:
            async with asyncio.timeout(timeout):
                for model in repository.registry:
                    scraped.open_conflicts[model.name] = len(await store.conflicts(model.name))
                    head = await store.checkpoint(model.name)
                    scraped.heads[model.name] = decode_checkpoint(head, store.store_id, sys.maxsize)
            scraped.up = True
        except (StoreError, TimeoutError):
            scraped.up = False
        self.scraped = scraped

    def sync_feeds(self) -> None:
        """Copy what the feeds counted since the last call into the shared counters
        (multiprocess mode only)."""
        if not self.multiprocess:
            return
        for model, stats in self.repository.feeds().items():
            before = self._synced.get(model, FeedStats())
            for attribute, counter in self.feed_counters.items():
                added = getattr(stats, attribute) - getattr(before, attribute)
                if added > 0:
                    counter.labels(model).inc(added)
            self.subscriptions.labels(model).set(stats.open)
            self._synced[model] = dataclasses.replace(stats)

    async def sync_feeds_forever(self) -> None:
        """``sync_feeds`` every ``FEED_SYNC_INTERVAL`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(FEED_SYNC_INTERVAL)
            self.sync_feeds()

    def render(self) -> bytes:
        """The metrics in Prometheus' text format (every worker's, in multiprocess mode)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.sync_feeds()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_ScrapeTime(self))
        return generate_latest(registry)


class _ScrapeTime(Collector):
    """The metrics read when scraped: the feeds' counts, and what ``refresh`` read."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        if not self.metrics.multiprocess:  # else they are in the shared files
            yield from self._feeds()
        scraped = self.metrics.scraped
        yield GaugeMetricFamily(
            f"{PREFIX}_store_up", "1 when the store answered the last scrape.", int(scraped.up)
        )
        for name, doc, values in (
            ("open_conflicts", "Conflicts recorded and not resolved.", scraped.open_conflicts),
            ("log_head", "The change log's head position.", scraped.heads),
        ):
            gauge = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["model"])
            for model, value in sorted(values.items()):
                gauge.add_metric([model], value)
            yield gauge
        for key, measured in sorted(scraped.gauges.items()):
            name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
            yield GaugeMetricFamily(f"{PREFIX}_store_{name}", f"The store's {key}.", measured)

    def _feeds(self) -> Iterator[Metric]:
        feeds = self.metrics.repository.feeds()
        for name, doc, attribute in FEED_COUNTERS:
            counter = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["model"])
            for model, stats in sorted(feeds.items()):
                counter.add_metric([model], getattr(stats, attribute))
            yield counter
        subscriptions = GaugeMetricFamily(
            f"{PREFIX}_subscriptions", SUBSCRIPTIONS_HELP, labels=["model"]
        )
        for model, stats in sorted(feeds.items()):
            subscriptions.add_metric([model], stats.open)
        yield subscriptions
