"""``GET /metrics``: after a known workload, parsed with ``prometheus_client.parser``, the
counters say exactly what the test did; protected by a bearer token when one is set; and
each app has a registry of its own."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from api.helpers import Api, Feed, make_user_conflict, uid
from servers import Server, ServerFactory
from starlette.applications import Starlette

from graphql_repl.app import create_app
from graphql_repl.auth import create_token
from graphql_repl.settings import Settings

from .helpers import base_url, scrape, scrape_until, value

RESOLVE = """
mutation Resolve($id: ID!) { resolveConflict(model: "User", modelId: $id, using: TARGET) }
"""
METRICS_TOKEN = "m" * 40


@pytest.fixture(scope="module")
def server(factory: ServerFactory) -> Iterator[Server]:
    server = factory.start()
    yield server
    factory.close([server])


async def test_counters_equal_the_workload(server: Server) -> None:
    api = Api(server, server.token("replicator"))
    before = await scrape(server)
    conflicts = [(await make_user_conflict(api))[0] for _ in range(3)]
    await api.data(RESOLVE, {"id": conflicts[0]})
    notes = [{"modelId": i, "type": "CREATE", "data": {"id": i}} for i in (uid(), uid())]
    await api.bulk("Note", notes)
    await Api(server).post('{ checkpoint(model: "Note") }')  # no token
    await Api(server, "grepl_000000000000_nope").post('{ checkpoint(model: "Note") }')
    after = await scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    user = {"model": "User"}
    assert grew("graphql_repl_conflicts_recorded_total", **user) == 3
    assert grew("graphql_repl_conflicts_resolved_total", **user) == 1
    assert value(after, "graphql_repl_open_conflicts", **user) == 2
    written = "graphql_repl_documents_written_total"
    assert grew(written, model="User", via="bulkUpdate", status="CONFLICT") == 3
    assert grew(written, model="User", via="bulkUpdate", status="APPLIED") == 3  # the creates
    assert grew(written, model="Note", via="bulkUpdate", status="APPLIED") == 2
    # make_user_conflict: 2 bulkUpdates each; then 1 more for the notes.
    ok_bulk = {"type": "mutation", "field": "bulkUpdate", "outcome": "ok"}
    assert grew("graphql_repl_operations_total", **ok_bulk) == 7
    timed = {"type": "mutation", "field": "bulkUpdate"}
    assert grew("graphql_repl_operation_duration_seconds_count", **timed) == 7
    refused = {"type": "query", "field": "checkpoint", "outcome": "UNAUTHENTICATED"}
    assert grew("graphql_repl_operations_total", **refused) == 2
    assert grew("graphql_repl_auth_failures_total", reason="missing") == 1
    assert grew("graphql_repl_auth_failures_total", reason="unknown") == 1
    assert value(after, "graphql_repl_log_head", model="Note") > value(
        before, "graphql_repl_log_head", model="Note"
    )
    assert value(after, "graphql_repl_store_up") == 1


async def test_feed_metrics_follow_subscribers(server: Server) -> None:
    token = server.token("replicator")
    before = await scrape(server)
    note_id = uid("n-")
    async with Feed(server, token) as first, Feed(server, token) as second:
        samples = await scrape_until(server, "graphql_repl_subscriptions", 2, model="Note")
        assert value(samples, "graphql_repl_websocket_connections") >= 2
        await Api(server, token).create_note(id=note_id, title="fan-out")
        await first.until(note_id)
        await second.until(note_id)
        during = await scrape(server)
    grew = {
        name: value(during, name, model="Note") - value(before, name, model="Note")
        for name in ("graphql_repl_feed_events_total", "graphql_repl_feed_deliveries_total")
    }
    assert grew == {"graphql_repl_feed_events_total": 1, "graphql_repl_feed_deliveries_total": 2}
    ended = await scrape_until(server, "graphql_repl_subscriptions", 0, model="Note")
    assert value(ended, "graphql_repl_websocket_connections") == 0


async def test_a_metrics_token_is_required_when_set(factory: ServerFactory) -> None:
    server = factory.start(env={"GRAPHQL_REPL_METRICS_TOKEN": METRICS_TOKEN})
    try:
        async with httpx.AsyncClient() as client:
            url = f"{base_url(server)}/metrics"
            assert (await client.get(url)).status_code == 401
            wrong = {"Authorization": "Bearer wrong"}
            assert (await client.get(url, headers=wrong)).status_code == 401
        samples = await scrape(server, METRICS_TOKEN)
        assert value(samples, "graphql_repl_store_up") == 1
        assert METRICS_TOKEN not in server.log_text()
    finally:
        factory.close([server])


def client_of(app: Starlette, host: str) -> httpx.AsyncClient:
    """An HTTP client of ``app`` in this process, calling from ``host``."""
    transport = httpx.ASGITransport(app=app, client=(host, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://server")


async def test_metrics_answer_the_loopback_only_without_a_token() -> None:
    app = create_app(Settings(store="sqlite:///:memory:"))
    async with app.state.repository:
        async with client_of(app, "203.0.113.9") as client:
            refused = await client.get("/metrics")
        assert refused.status_code == 403
        assert "GRAPHQL_REPL_METRICS_TOKEN" in refused.text
        async with client_of(app, "127.0.0.1") as client:
            assert (await client.get("/metrics")).status_code == 200


async def test_each_app_has_a_registry_of_its_own() -> None:
    apps = [create_app(Settings(store="sqlite:///:memory:")) for _ in range(2)]
    assert apps[0].state.metrics.registry is not apps[1].state.metrics.registry
    async with apps[0].state.repository, client_of(apps[0], "127.0.0.1") as client:
        await client.post("/graphql", json={"query": '{ checkpoint(model: "Note") }'})
    counted = [
        app.state.metrics.registry.get_sample_value(
            "graphql_repl_operations_total",
            {"type": "query", "field": "checkpoint", "outcome": "UNAUTHENTICATED"},
        )
        for app in apps
    ]
    assert counted == [1.0, None]


async def test_a_resync_answer_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(store="sqlite:///:memory:"))
    repository = app.state.repository
    async with repository, client_of(app, "127.0.0.1") as client:
        token = await create_token(repository.tokens, "replicator")
        query = 'query Again { changes(model: "Note", since: "another-store-5") { hasMore } }'
        with caplog.at_level(logging.INFO, logger="graphql_repl.api.events"):
            body = (
                await client.post(
                    "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
    assert body["errors"][0]["extensions"]["resync"] is True
    (line,) = [r for r in caplog.records if getattr(r, "operation_name", None) == "Again"]
    assert getattr(line, "resync", None) is True
    assert getattr(line, "outcome", None) == "BAD_USER_INPUT"
    assert app.state.metrics.registry.get_sample_value("graphql_repl_resyncs_total") == 1
