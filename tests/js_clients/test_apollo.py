"""Apollo Client 4 against a real server: Notes from ``pullNote`` and ``streamNote`` land in
the normalised cache (``Note:<id>``) as the server sent them, with no field filled in by
hand, and tombstones are evicted (tests/js/web/apollo-sync.mjs, the README's recipe).

One Node process (tests/js/web/apollo-client.mjs) and one reader token for the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from servers import Server

from .helpers import NOTE_FIELDS, Api, uid
from .node import NodeClient


@pytest.fixture(scope="module")
def admin(server: Server) -> Api:
    return Api(server, server.token("admin"))


@pytest.fixture(scope="module")
def pulled(admin: Api) -> dict[str, Any]:
    """A Note the server has before the client starts."""
    return admin.create("Note", NOTE_FIELDS, id=uid("pulled-"), title="pulled", tags=["p"])


@pytest.fixture(scope="module")
def apollo(node: str, server: Server, pulled: dict[str, Any]) -> Iterator[NodeClient]:
    client = NodeClient(node, "apollo-client.mjs")
    client.call("open", http=server.url, ws=server.ws_url, token=server.token("reader"))
    yield client
    assert client.close() == 0, client.stderr()


def cached(note: dict[str, Any]) -> dict[str, Any]:
    """What readFragment gives for a Note the server answered."""
    return {"__typename": "Note", **note}


def test_pulled_notes_are_in_the_normalised_cache(apollo, pulled):
    assert apollo.call("waitFragment", id=pulled["id"]) == cached(pulled)


def test_streamed_notes_update_the_normalised_cache(apollo, admin):
    note_id = uid("streamed-")

    created = admin.create("Note", NOTE_FIELDS, id=note_id, title="created", views=1)
    assert apollo.call("waitFragment", id=note_id, fields={"title": "created"}) == cached(created)

    updated = admin.update("Note", NOTE_FIELDS, note_id, title="updated", tags=["u"])
    fragment = apollo.call("waitFragment", id=note_id, fields={"title": "updated"})
    assert fragment == cached(updated)
    assert fragment["_rev"] != created["_rev"]


def test_a_watched_query_follows_the_stream_and_drops_an_evicted_tombstone(apollo, admin):
    kept, deleted = uid("kept-"), uid("deleted-")
    admin.create("Note", NOTE_FIELDS, id=kept, title="kept")
    admin.create("Note", NOTE_FIELDS, id=deleted, title="to be deleted")
    apollo.call("waitFragment", id=deleted, fields={"title": "to be deleted"})
    watched = apollo.call("watch", ids=[kept, deleted])
    assert sorted(n["id"] for n in watched) == sorted([kept, deleted])
    order = [n["id"] for n in watched]

    admin.update("Note", NOTE_FIELDS, kept, title="kept, renamed")
    apollo.call("waitFragment", id=kept, fields={"title": "kept, renamed"})
    renamed = apollo.call("waitWatched", ids=order)
    assert [n["title"] for n in renamed if n["id"] == kept] == ["kept, renamed"]

    assert admin.delete("Note", deleted)

    assert apollo.call("waitFragment", id=deleted, gone=True) is None
    assert [n["id"] for n in apollo.call("waitWatched", ids=[kept])] == [kept]
    assert f"Note:{deleted}" not in apollo.call("cached")


def test_the_stream_follows_the_server_across_a_restart(apollo, servers, server, admin):
    before = uid("before-restart-")
    admin.create("Note", NOTE_FIELDS, id=before, title="streamed")
    apollo.call("waitFragment", id=before, fields={"title": "streamed"})  # the stream is live

    servers.restart(server)

    note_id = uid("restarted-")
    created = admin.create("Note", NOTE_FIELDS, id=note_id, title="after the restart")
    assert apollo.call("waitFragment", id=note_id, fields={"title": "after the restart"}) == (
        cached(created)
    )


def test_apollo_took_every_result_without_a_warning(apollo):
    assert apollo.call("warnings") == []
