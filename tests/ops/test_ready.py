"""``GET /ready``: 200 while the store answers, 503 with the reason while it does not, and
200 again once it is back; ``GET /health`` (liveness) stays 200 throughout. ``GET /``
points at the rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import mongo_server
import pytest
from servers import Server, ServerFactory

from .helpers import WAIT, base_url

CONNECT_TIMEOUT = 2.0


@pytest.fixture
def emulator() -> Iterator[mongo_server.Emulator]:
    """A mongo-java-server of this test's own (the test stops and restarts it)."""
    mongo_server.lower_pymongo_min_wire_version()  # for the server's subprocess too
    running = mongo_server.start()
    try:
        yield running
    finally:
        running.stop()
        mongo_server.restore_pymongo_min_wire_version()


async def ready_status(server: Server) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(timeout=CONNECT_TIMEOUT + WAIT) as client:
        response = await client.get(f"{base_url(server)}/ready")
    return response.status_code, response.json()


async def ready_becomes(server: Server, status: int) -> dict[str, str]:
    deadline = time.monotonic() + WAIT + CONNECT_TIMEOUT
    while True:
        code, body = await ready_status(server)
        if code == status:
            return body
        assert time.monotonic() < deadline, (status, code, body)
        await asyncio.sleep(0.1)


async def test_ready_follows_the_mongodb_server(
    factory: ServerFactory, emulator: mongo_server.Emulator
) -> None:
    port = emulator.port
    store = urlunsplit(urlsplit(emulator.url)._replace(path="/ready_test"))
    server = factory.start(store, env={"GRAPHQL_REPL_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)})
    try:
        assert await ready_status(server) == (200, {"status": "ready"})
        emulator.stop()
        down = await ready_becomes(server, 503)
        assert down["status"] == "unavailable"
        assert down["reason"]
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.health_url)).status_code == 200  # still alive
        back = mongo_server.start(port=port)
        try:
            assert await ready_becomes(server, 200) == {"status": "ready"}
        finally:
            back.stop()
    finally:
        factory.close([server])


async def test_ready_and_the_index_on_sqlite(factory: ServerFactory) -> None:
    server = factory.start()
    try:
        assert await ready_status(server) == (200, {"status": "ready"})
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{base_url(server)}/", headers={"Accept": "text/html"})
            links = await client.get(f"{base_url(server)}/")
        assert page.status_code == 200
        for path in ("/graphql", "/demo/", "/health"):
            assert f'href="{path}"' in page.text
        assert {"/graphql", "/demo/", "/health", "/ready", "/metrics"} <= set(links.json()["links"])
    finally:
        factory.close([server])
