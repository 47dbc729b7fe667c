"""The demo web app at ``/demo/`` in Debian's chromium, against real servers.

Each test starts a server on a fresh SQLite store and opens the board in separate browser
contexts (separate "windows": own storage, own network, so ``set_offline`` affects one).
What a page received is counted from its own network traffic (HTTP bodies and WebSocket
frames), never from the app's internals.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, Response, WebSocket, expect
from servers import Server, ServerFactory

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend_demo"
BUILT = ROOT / "graphql_repl" / "static" / "demo"
LIVE_MS = 1000  # a change shows in the other window within a second
SYNC_MS = 20_000  # reconnecting (backoff included) and catching up
STATE_MS = 5000  # a connection state the page shows at once (offline, reconnecting, ...)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@dataclass
class Received:
    """The documents a page pulled, from its network traffic: ``pull<Model>`` pages over
    HTTP and ``stream<Model>`` batches over WebSocket (each document with its ``model``)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def watch(self, page: Page) -> None:
        page.on("response", self._on_response)
        page.on("websocket", self._on_websocket)

    def notes(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["model"] == "Note"]

    async def settle(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def _take(self, data: dict[str, Any] | None, prefix: str) -> None:
        for name, batch in (data or {}).items():
            if name.startswith(prefix) and isinstance(batch, dict):
                model = name.removeprefix(prefix)
                self.documents.extend({**d, "model": model} for d in batch["documents"])

    def _on_response(self, response: Response) -> None:
        if response.url.endswith("/graphql") and response.request.method == "POST":
            task = asyncio.ensure_future(self._read(response))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _read(self, response: Response) -> None:
        self._take((await response.json()).get("data"), "pull")

    def _on_websocket(self, ws: WebSocket) -> None:
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "next":
            self._take((message.get("payload") or {}).get("data"), "stream")


class Board:
    """One window on the demo, driven through its ``data-testid`` attributes."""

    def __init__(self, context: BrowserContext, page: Page, server: Server) -> None:
        self.context = context
        self.page = page
        self.server = server
        self.received = Received()
        self.received.watch(page)
        self.requested: list[str] = []  # every URL the page asked for
        page.on("request", lambda request: self.requested.append(request.url))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/demo/"

    async def open(self, token: str | None = None) -> None:
        await self.page.goto(self.url)
        if token is not None:
            await self.page.get_by_test_id("token-input").fill(token)
            await self.page.get_by_test_id("connect").click()
        await self.wait_state("online")

    @property
    def state_badge(self) -> Locator:
        return self.page.get_by_test_id("connection-state")

    async def wait_state(self, state: str) -> None:
        """Until the page's connection state is ``state``, reconnecting and catching up
        included (SYNC_MS)."""
        await expect(self.state_badge).to_have_attribute("data-state", state, timeout=SYNC_MS)

    async def shows_state(self, state: str) -> None:
        """The page's connection state becomes ``state`` promptly (STATE_MS)."""
        await expect(self.state_badge).to_have_attribute("data-state", state, timeout=STATE_MS)

    async def go_offline(self) -> None:
        await self.context.set_offline(True)
        await self.shows_state("offline")

    async def wait_synced(self) -> None:
        """Until the page says it has stored everything it pulled and pushed every edit."""
        await expect(self.state_badge).to_have_attribute("data-synced", "true", timeout=SYNC_MS)

    async def go_online(self) -> None:
        await self.context.set_offline(False)
        await self.wait_state("online")

    def note(self, text: str) -> Locator:
        return self.page.get_by_test_id("note").filter(has_text=text)

    def user(self, text: str) -> Locator:
        return self.page.get_by_test_id("user").filter(has_text=text)

    async def add_note(self, title: str, body: str = "") -> None:
        await self.page.get_by_test_id("new-note-title").fill(title)
        await self.page.get_by_test_id("new-note-body").fill(body)
        await self.page.get_by_test_id("add-note").click()

    async def edit_note(self, text: str, **fields: str) -> None:
        # Found by id: in edit mode its text is in inputs, which has_text does not match.
        note_id = await self.note(text).get_attribute("data-id")
        card = self.page.locator(f'[data-testid="note"][data-id="{note_id}"]')
        await card.get_by_test_id("edit-note").click()
        for name, value in fields.items():
            await card.get_by_test_id(f"edit-{name}").fill(value)
        await card.get_by_test_id("save-note").click()

    async def edit_user(self, text: str, name: str) -> None:
        user_id = await self.user(text).get_attribute("data-id")
        row = self.page.locator(f'[data-testid="user"][data-id="{user_id}"]')
        await row.get_by_test_id("edit-user").click()
        await row.get_by_test_id("edit-user-name").fill(name)
        await row.get_by_test_id("save-user").click()

    async def screenshot(self, path: Path) -> None:
        await self.page.screenshot(path=str(path), full_page=True)


@pytest.fixture
def server(browser_servers: ServerFactory) -> Iterator[Server]:
    """A server on a fresh store, for this test alone."""
    started = browser_servers.start()
    yield started
    browser_servers.close([started])


@pytest.fixture
def token(server: Server) -> str:
    """An end user's token: the demo syncs with READ and WRITE alone (CONTRACT §8)."""
    return server.token("writer")


@pytest.fixture
async def boards(browser: Browser, server: Server) -> AsyncIterator[Callable[[], Awaitable[Board]]]:
    """Makes boards, each in a browser context of its own."""
    contexts: list[BrowserContext] = []

    async def make() -> Board:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        return Board(context, await context.new_page(), server)

    yield make
    for context in contexts:
        await context.close()


async def graphql(server: Server, token: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            server.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def elapsed_until(check: Awaitable[None]) -> float:
    start = time.monotonic()
    await check
    return time.monotonic() - start


async def test_two_windows_show_each_others_creates_edits_and_deletes_within_a_second(
    boards: Callable[[], Awaitable[Board]], token: str, artifacts: Path
) -> None:
    a, b = await boards(), await boards()
    await a.open(token)
    await b.open(token)
    title = unique("Groceries")

    await a.add_note(title, "milk, eggs")
    created = await elapsed_until(expect(b.note(title)).to_be_visible(timeout=LIVE_MS))
    await expect(b.note(title).get_by_test_id("note-body")).to_have_text("milk, eggs")

    await b.edit_note(title, body="milk, eggs, bread")
    body = a.note(title).get_by_test_id("note-body")
    edited = await elapsed_until(expect(body).to_have_text("milk, eggs, bread", timeout=LIVE_MS))
    await a.screenshot(artifacts / "demo-live-a.png")
    await b.screenshot(artifacts / "demo-live-b.png")

    await a.note(title).get_by_test_id("delete-note").click()
    deleted = await elapsed_until(expect(b.note(title)).to_have_count(0, timeout=LIVE_MS))
    await expect(a.note(title)).to_have_count(0)
    origin = f"127.0.0.1:{a.server.port}/"
    offsite = [u for u in a.requested + b.requested if not u.split("://", 1)[1].startswith(origin)]
    assert not offsite, f"the demo must load nothing from elsewhere (no CDN): {offsite}"
    assert any(u.endswith("/demo/app.js") for u in a.requested)
    print(
        f"shown in the other window after: create {created:.3f}s, edit {edited:.3f}s, "
        f"delete {deleted:.3f}s"
    )


async def test_offline_edits_of_different_fields_merge_on_reconnect(
    boards: Callable[[], Awaitable[Board]], token: str, artifacts: Path
) -> None:
    a, b = await boards(), await boards()
    await a.open(token)
    await b.open(token)
    title = unique("Trip")
    await a.add_note(title, "pack bags")
    await expect(b.note(title)).to_be_visible()

    await a.go_offline()
    await a.edit_note(title, title=f"{title} to Lisbon")
    await expect(a.page.get_by_test_id("outbox-count")).to_have_attribute("data-count", "1")
    await expect(a.note(title).get_by_test_id("note-pending")).to_be_visible()
    await b.edit_note(title, body="pack bags, book hotel")
    await b.wait_synced()  # the server has the online window's edit
    await a.screenshot(artifacts / "demo-offline-a.png")
    # The offline window does not see the online window's edit yet.
    await expect(a.note(title).get_by_test_id("note-body")).to_have_text("pack bags")

    await a.go_online()
    for board in (a, b):
        card = board.note(f"{title} to Lisbon")
        await expect(card.get_by_test_id("note-body")).to_have_text(
            "pack bags, book hotel", timeout=SYNC_MS
        )
    await expect(a.note(title).get_by_test_id("note-merged")).to_be_visible()
    await expect(a.page.get_by_test_id("outbox-count")).to_have_attribute("data-count", "0")
    query = "query($w: JSON) { notes(where: $w) { title body } }"
    stored = await graphql(a.server, token, query, w={"body": "pack bags, book hotel"})
    assert stored["notes"] == [{"title": f"{title} to Lisbon", "body": "pack bags, book hotel"}]
    await a.screenshot(artifacts / "demo-merged-a.png")
    await b.screenshot(artifacts / "demo-merged-b.png")


async def test_offline_edits_survive_closing_the_window(
    boards: Callable[[], Awaitable[Board]], token: str
) -> None:
    a, b = await boards(), await boards()
    await a.open(token)
    await b.open(token)
    title, second = unique("Draft"), unique("Idea")
    await b.add_note(title, "first words")
    await expect(a.note(title)).to_be_visible()

    await a.go_offline()
    await a.edit_note(title, body="written on the train")
    await a.add_note(second, "also offline")
    await expect(a.page.get_by_test_id("outbox-count")).to_have_attribute("data-count", "2")
    await a.page.close()  # the queued edits are only in this browser's storage now
    await a.context.set_offline(False)
    await expect(b.note(title).get_by_test_id("note-body")).to_have_text("first words")

    reopened = Board(a.context, await a.context.new_page(), a.server)
    await reopened.open()
    for board in (reopened, b):
        await expect(board.note(title).get_by_test_id("note-body")).to_have_text(
            "written on the train", timeout=SYNC_MS
        )
        await expect(board.note(second)).to_be_visible(timeout=SYNC_MS)
    await expect(reopened.page.get_by_test_id("outbox-count")).to_have_attribute("data-count", "0")


CREATE_NOTE = "mutation($d: NoteInput!) { createNote(data: $d) { id } }"
UPDATE_NOTE = "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }"
DELETE_NOTE = "mutation($id: ID!) { deleteNote(id: $id) }"


async def test_reload_and_reconnect_resume_from_the_stored_checkpoint(
    boards: Callable[[], Awaitable[Board]],
    server: Server,
    browser_servers: ServerFactory,
    token: str,
    artifacts: Path,
) -> None:
    ids = []
    for i in range(30):
        data = {"title": f"Note {i:02}", "body": "x"}
        created = await graphql(server, token, CREATE_NOTE, d=data)
        ids.append(created["createNote"]["id"])
    board = await boards()
    await board.open(token)
    notes = board.page.get_by_test_id("note")
    await expect(notes).to_have_count(30)
    await board.received.settle()
    assert len(board.received.notes()) == 30  # the first load pulled the whole board
    await board.wait_synced()

    # Away (the page is closed): two edits, one new note, one deletion.
    await board.page.goto("about:blank")
    await graphql(server, token, UPDATE_NOTE, id=ids[0], d={"title": "Note 00 edited"})
    await graphql(server, token, UPDATE_NOTE, id=ids[1], d={"body": "y"})
    await graphql(server, token, CREATE_NOTE, d={"title": "Note 30"})
    await graphql(server, token, DELETE_NOTE, id=ids[2])
    board.received.documents.clear()
    await board.open()  # the token is remembered
    await expect(board.note("Note 00 edited")).to_be_visible()
    await expect(board.note("Note 30")).to_be_visible()
    await expect(board.note("Note 02")).to_have_count(0)
    await expect(board.note("Note 01").get_by_test_id("note-body")).to_have_text("y")
    await expect(notes).to_have_count(30)
    await board.received.settle()
    received = board.received.notes()
    assert len(received) == 4, [d["id"] for d in received]
    assert sum(not d["_deleted"] for d in received) == 3  # documents: only what changed
    await board.screenshot(artifacts / "demo-reloaded.png")

    # A dropped connection (the server restarts): the page reconnects and catches up.
    board.received.documents.clear()
    server.stop()
    await board.shows_state("reconnecting")
    await board.screenshot(artifacts / "demo-reconnecting.png")
    browser_servers.restart(server)  # the same store and port
    await graphql(server, token, UPDATE_NOTE, id=ids[3], d={"title": "Note 03 while away"})
    await expect(board.note("Note 03 while away")).to_be_visible(timeout=SYNC_MS)
    await board.wait_state("online")
    await board.received.settle()
    assert [d["id"] for d in board.received.notes()] == [ids[3]]


CREATE_USER = "mutation($d: UserInput!) { createUser(data: $d) { id } }"


USER = "query($id: ID!) { user(id: $id) { name } }"


@pytest.mark.parametrize(
    ("choice", "kept"),
    [("keep-mine", "Lovelace"), ("keep-theirs", "Byron"), ("keep-edited", "King")],
)
async def test_user_conflict_inbox_settles_a_manual_conflict_and_the_server_holds_the_choice(
    boards: Callable[[], Awaitable[Board]],
    server: Server,
    token: str,
    artifacts: Path,
    choice: str,
    kept: str,
) -> None:
    name = unique("Ada")
    data = {"name": name, "email": "ada@example.org"}
    created = await graphql(server, token, CREATE_USER, d=data)
    user_id = created["createUser"]["id"]
    a, b = await boards(), await boards()
    await a.open(token)
    await b.open(token)
    await expect(a.user(name)).to_be_visible()
    await expect(b.user(name)).to_be_visible()

    await a.go_offline()
    await a.edit_user(name, f"{name} Lovelace")
    await expect(a.user(name).get_by_test_id("user-pending")).to_be_visible()
    await b.edit_user(name, f"{name} Byron")
    await expect(b.user(f"{name} Byron")).to_be_visible()
    await b.wait_synced()  # the server has the online window's edit
    await a.go_online()

    # The push is refused (User's fields are MANUAL): the inbox holds both sides.
    conflict = a.page.get_by_test_id("conflict").filter(has_text=f"{name} Lovelace")
    await expect(conflict).to_be_visible(timeout=SYNC_MS)
    await expect(conflict.get_by_test_id("mine-value")).to_have_text(f"{name} Lovelace")
    await expect(conflict.get_by_test_id("theirs-value")).to_have_text(f"{name} Byron")
    assert await conflict.get_attribute("data-id") == user_id
    if choice == "keep-mine":
        await a.screenshot(artifacts / "demo-conflict-inbox.png")
    if choice == "keep-edited":
        await conflict.get_by_test_id("resolve-name").fill(f"{name} King")

    await conflict.get_by_test_id(choice).click()
    await expect(a.page.get_by_test_id("conflict")).to_have_count(0)
    for board in (a, b):
        await expect(board.user(name).get_by_test_id("user-name")).to_have_text(
            f"{name} {kept}", timeout=SYNC_MS
        )
        await expect(board.page.get_by_test_id("conflict")).to_have_count(0)
    await expect(a.page.get_by_test_id("outbox-count")).to_have_attribute("data-count", "0")
    stored = await graphql(server, token, USER, id=user_id)
    assert stored["user"] == {"name": f"{name} {kept}"}
    if choice == "keep-mine":
        await a.screenshot(artifacts / "demo-conflict-resolved.png")


RETRY_S = 3  # longer than the demo waits before retrying a request or a connection


async def test_a_refused_token_is_shown_and_not_retried(
    boards: Callable[[], Awaitable[Board]], server: Server, token: str
) -> None:
    board = await boards()
    sockets: list[str] = []
    board.page.on("websocket", lambda ws: sockets.append(ws.url))
    await board.page.goto(board.url)
    await board.page.get_by_test_id("token-input").fill("not-a-token")
    await board.page.get_by_test_id("connect").click()
    await board.shows_state("unauthorized")
    await expect(board.page.get_by_test_id("connection-state")).to_have_text("token refused")
    asked, opened = len(board.requested), len(sockets)
    await asyncio.sleep(RETRY_S)
    assert board.requested[asked:] == []
    assert sockets[opened:] == []

    # A reader token syncs down (pull and stream need READ); its first edit is refused.
    await board.page.get_by_test_id("token-input").fill(server.token("reader"))
    await board.page.get_by_test_id("connect").click()
    await board.wait_state("online")
    await board.add_note(unique("Read only"))
    await board.shows_state("unauthorized")

    await board.page.get_by_test_id("token-input").fill(token)
    await board.page.get_by_test_id("connect").click()
    await board.wait_state("online")


def npm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run npm in ``frontend_demo/``; fails the test when npm is missing or fails."""
    found = shutil.which("npm")
    assert found is not None, "npm (Node 20+) is needed to build the demo"
    done = subprocess.run(
        [found, *args], cwd=FRONTEND, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def test_build_from_the_lockfile_reproduces_the_committed_bundle(tmp_path: Path) -> None:
    npm("ci", "--no-audit", "--no-fund")  # the packages, exactly as locked
    start = time.monotonic()
    npm("run", "build", "--", "--outdir", str(tmp_path))
    print(f"build: {time.monotonic() - start:.2f}s")
    built = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(BUILT): p.read_bytes() for p in BUILT.rglob("*") if p.is_file()}
    assert sorted(built) == sorted(committed)
    for name, content in built.items():
        assert content == committed[name], f"{name} differs from the committed build"
