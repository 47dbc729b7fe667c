"""``RemoteModel``, the client library, against real servers: the Endpoint operations,
``diff``, ``feed`` and the mapping of failures to the error tree."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers import Server, ServerFactory, free_port

from graphql_repl.errors import PermanentError, ResyncRequired, TransientError
from graphql_repl.remote import NO_RETRY, RemoteModel, Retry, graphql_url
from graphql_repl.replication import (
    ChangeInput,
    ChangeType,
    Endpoint,
    Resolution,
    Update,
    UpdateStatus,
    replicate,
)

from .helpers import Client, Servers, note_ids, uid


@pytest.fixture(scope="module")
def pair(sqlite_factory: ServerFactory) -> Iterator[tuple[Server, Server]]:
    servers = Servers(sqlite_factory)
    yield servers.start(), servers.start()
    servers.close()


def remote(server: Server, model: str = "Note", **options: Any) -> RemoteModel:
    return RemoteModel(server.url, model, server.token("replicator"), **options)


def test_urls() -> None:
    assert graphql_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/graphql"
    assert graphql_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/graphql"
    assert graphql_url("https://h/api/graphql") == "https://h/api/graphql"
    assert RemoteModel("https://h", "Note").ws_url == "wss://h/graphql"
    with pytest.raises(ValueError, match="not an http"):
        graphql_url("127.0.0.1:8000")


async def test_replicate_between_two_remote_models(pair: tuple[Server, Server]) -> None:
    a, b = pair
    ids = note_ids(30, "rm")
    Client(a).create_notes(ids)
    async with remote(a) as source, remote(b, push_size=7) as target:
        endpoint: Endpoint = source  # RemoteModel is an Endpoint
        assert endpoint is source
        first = await replicate(source, target, chunk_size=8)
        assert first.counts == {UpdateStatus.APPLIED: 30}
        assert {u.model_id for u in first.updates} >= set(ids)
        again = await replicate(source, target, first.checkpoints)
        assert again.counts == {}
    docs = Client(b).documents()
    assert all(docs[i] == Client(a).documents()[i] for i in ids)


async def test_request_bodies_are_encoded_by_orjson(
    pair: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulkUpdate goes to httpx as orjson's bytes, not as ``json=`` for the json module to
    encode (gql's default): 1e-7 tells the two apart, the json module writes 1e-07."""
    sent: list[httpx.Request] = []
    send = httpx.AsyncClient.send

    async def recording(
        client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        sent.append(request)
        return await send(client, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording)
    a, _ = pair
    record_id = uid("orjson-")
    record = {"id": record_id, "account": "a", "amount": 1e-7, "currency": "EUR"}
    async with RemoteModel(a.url, "FinancialRecord", a.token("admin")) as records:
        result = await records.bulk_update([Update(record_id, ChangeType.CREATE, record)])
    assert [r.status for r in result.results] == [UpdateStatus.APPLIED]
    (request,) = [r for r in sent if b"bulkUpdate(" in r.content]
    assert request.headers["Content-Type"] == "application/json"
    assert b'"amount":1e-7' in request.content


async def test_changes_carry_clocks_and_ancestry(pair: tuple[Server, Server]) -> None:
    a, _ = pair
    Client(a).create("Note", {"id": "anc", "title": "one"})
    Client(a).update("Note", "anc", {"title": "two"})
    async with remote(a) as notes:
        page = await notes.changes(where={"id": "anc"})
    (change,) = page.changes
    assert change.type is ChangeType.UPDATE
    assert change.data == {"id": "anc", "title": "two"}
    assert change.prev
    assert change.revs[0] == change.prev
    assert set(change.clock) >= {"title"}


async def test_diff_and_conflicts_and_resolution(pair: tuple[Server, Server]) -> None:
    a, _ = pair
    async with remote(a, "User") as users:
        since = await users.checkpoint()
        created = await users.bulk_update(
            [Update("du", ChangeType.CREATE, {"id": "du", "name": "a", "email": "e"})]
        )
        (r0,) = created.results
        assert r0.status is UpdateStatus.APPLIED
        assert r0.data == {
            "id": "du",
            "name": "a",
            "email": "e",
        }
        Client(a).update("User", "du", {"name": "b"})
        diff = await users.diff(since, [ChangeInput("du", ChangeType.UPDATE, "x" * 32, r0.rev)])
        assert [c.model_id for c in diff.conflicts] == ["du"]
        assert diff.deltas == []
        result = await users.bulk_update(
            [Update("du", ChangeType.UPDATE, {"id": "du", "name": "c", "email": "e"}, prev=r0.rev)]
        )
        assert [r.status for r in result.results] == [UpdateStatus.CONFLICT]
        assert [c.fields for c in result.conflicts] == [["name"]]
        assert [c.model_id for c in await users.conflicts()] == ["du"]
        kept = await users.resolve_conflict("du", Resolution.SOURCE)
        assert kept == {"id": "du", "name": "c", "email": "e"}
        assert await users.conflicts() == []
        with pytest.raises(PermanentError) as missing:
            await users.resolve_conflict("du", Resolution.SOURCE)
        assert missing.value.code == "NOT_FOUND"


async def test_feed_replays_then_streams(pair: tuple[Server, Server]) -> None:
    a, _ = pair
    async with remote(a) as notes:
        since = await notes.checkpoint()
        Client(a).create("Note", {"id": "feed-1", "title": "replayed"})
        connected = asyncio.Event()
        feed = notes.feed(since, {"title": {"neq": "skipped"}}, on_connect=connected.set)
        first = await asyncio.wait_for(anext(feed), 20)
        assert connected.is_set()
        assert (first.model_id, first.data) == ("feed-1", {"id": "feed-1", "title": "replayed"})
        Client(a).create("Note", {"id": "feed-2", "title": "skipped"})
        Client(a).create("Note", {"id": "feed-3", "title": "live"})
        second = await asyncio.wait_for(anext(feed), 20)
        assert second.model_id == "feed-3"
        assert second.checkpoint
        assert second.clock
        await feed.aclose()


async def test_errors_are_mapped(pair: tuple[Server, Server]) -> None:
    a, b = pair
    async with RemoteModel(a.url, "Note", "grepl_000000000000_wrong") as wrong:
        with pytest.raises(PermanentError) as refused:
            await wrong.checkpoint()
        assert refused.value.code == "UNAUTHENTICATED"
        with pytest.raises(PermanentError) as feed_refused:
            await anext(wrong.feed())
        assert feed_refused.value.code in ("UNAUTHENTICATED", "FORBIDDEN")
    async with remote(a, "Nope") as unknown:
        with pytest.raises(PermanentError) as bad:
            await unknown.changes()
        assert bad.value.code == "BAD_USER_INPUT"
        assert "Nope" in bad.value.message
    async with remote(b) as other, remote(a) as notes:
        foreign = await other.checkpoint()
        with pytest.raises(ResyncRequired):
            await notes.changes(foreign)
    nowhere = RemoteModel(f"http://127.0.0.1:{free_port()}", "Note", retry=NO_RETRY)
    with pytest.raises(TransientError) as down:
        await nowhere.checkpoint()
    assert "connection refused" in down.value.message
    await nowhere.close()


async def test_transient_errors_are_retried(pair: tuple[Server, Server]) -> None:
    nowhere = RemoteModel(
        f"http://127.0.0.1:{free_port()}", "Note", retry=Retry(attempts=3, initial=0.01)
    )
    with pytest.raises(TransientError) as down:
        await nowhere.checkpoint()
    assert down.value.attempts == 3
    await nowhere.close()
