"""GraphiQL as ``graphql-repl serve`` serves it at ``GET /graphql``: every asset comes from
the server itself (no CDN), queries and subscriptions run with the token typed into the
Headers tab, the explorer plugin shows the schema, and the committed bundle is exactly what
``frontend_demo/graphiql`` builds from its lockfile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from graphql import build_schema
from playwright.async_api import Page, Route, WebSocket, expect
from servers import Server

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "frontend_demo" / "graphiql"
BUNDLE = ROOT / "graphql_repl" / "static" / "graphiql"

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".graphiql-response"
CREATE_NOTE = "mutation($data: NoteInput!) { createNote(data: $data) { id } }"


@dataclass
class GraphiQLPage:
    """The GraphiQL page of one server, with every request to another host refused."""

    page: Page
    server: Server
    outside: list[str] = field(default_factory=list)  # requests to other hosts, refused

    async def editor_text(self, selector: str) -> str:
        script = "element => element.CodeMirror.getValue()"
        text = await self.page.eval_on_selector(selector, script)
        assert isinstance(text, str)
        return text

    async def type_into(self, selector: str, text: str) -> None:
        """Replace an editor's content by typing ``text`` on the keyboard, as a user would."""
        await self.page.locator(selector).click()
        await self.page.keyboard.press("Control+A")
        await self.page.keyboard.press("Backspace")
        await self.page.keyboard.type(text, delay=10)
        # CodeMirror closes brackets and quotes and lets the closing key type over them.
        assert await self.editor_text(selector) == text

    async def set_authorization(self, value: str) -> None:
        await self.page.get_by_role("button", name="Headers", exact=True).click()
        await self.type_into(HEADERS_EDITOR, json.dumps({"Authorization": value}))

    async def set_token(self, role: str) -> str:
        token = self.server.token(role)
        await self.set_authorization(f"Bearer {token}")
        return token

    async def run(self, query: str) -> None:
        await self.type_into(QUERY_EDITOR, query)
        await self.page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    def assert_nothing_outside(self) -> None:
        assert self.outside == [], f"the page asked other hosts for {self.outside}"


@pytest.fixture
async def graphiql(page: Page, web_server: Server) -> AsyncIterator[GraphiQLPage]:
    opened = GraphiQLPage(page, web_server)

    async def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            opened.outside.append(route.request.url)
            await route.abort()

    await page.context.route("**/*", only_this_server)
    response = await page.goto(web_server.url)
    assert response is not None
    assert response.status == 200
    await expect(page).to_have_title("GraphiQL · graphql_repl")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    yield opened
    opened.assert_nothing_outside()


def create_note(server: Server, title: str) -> str:
    """A note created over HTTP (not through the page); returns its id."""
    note_id = f"graphiql-{uuid.uuid4().hex}"
    response = httpx.post(
        server.url,
        json={"query": CREATE_NOTE, "variables": {"data": {"id": note_id, "title": title}}},
        headers={"Authorization": f"Bearer {server.token('writer')}"},
        timeout=30,
    )
    response.raise_for_status()
    assert response.json() == {"data": {"createNote": {"id": note_id}}}
    return note_id


async def test_graphiql_runs_a_typed_query_with_the_token_from_the_headers_tab(
    graphiql: GraphiQLPage, artifacts: Path
) -> None:
    title = f"typed in GraphiQL {uuid.uuid4().hex[:8]}"
    note_id = create_note(graphiql.server, title)
    graphiql.assert_nothing_outside()
    await graphiql.set_token("reader")

    await graphiql.run(f'{{ note(id: "{note_id}") {{ id title }} }}')

    result = graphiql.page.locator(RESULT)
    await expect(result).to_contain_text(note_id)
    await expect(result).to_contain_text(title)
    shown = json.loads(await graphiql.editor_text(f"{RESULT} .CodeMirror"))
    assert shown == {"data": {"note": {"id": note_id, "title": title}}}
    await graphiql.page.screenshot(path=str(artifacts / "graphiql-query.png"))


async def test_graphiql_without_a_token_shows_the_servers_error(graphiql: GraphiQLPage) -> None:
    await graphiql.run("{ notes(limit: 1) { id } }")
    await expect(graphiql.page.locator(RESULT)).to_contain_text("UNAUTHENTICATED")


async def test_graphiql_explorer_shows_the_schemas_fields(
    graphiql: GraphiQLPage, artifacts: Path
) -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    assert schema.query_type is not None
    page = graphiql.page
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-explorer-root")
    await expect(explorer).to_be_visible()
    for name in schema.query_type.fields:
        await expect(explorer.get_by_text(name, exact=True)).to_be_visible()

    # Ticking a field in the explorer writes it into the query editor.
    await graphiql.type_into(QUERY_EDITOR, "")
    await explorer.get_by_text("notes", exact=True).click()
    await explorer.get_by_text("title", exact=True).click()
    await expect(page.locator(QUERY_EDITOR)).to_contain_text("notes {")
    assert "title" in await graphiql.editor_text(QUERY_EDITOR)
    await page.screenshot(path=str(artifacts / "graphiql-explorer.png"))


async def test_graphiql_change_feed_subscription_shows_a_note_created_over_http(
    graphiql: GraphiQLPage, artifacts: Path
) -> None:
    page = graphiql.page
    sent: list[dict[str, object]] = []

    def on_websocket(socket: WebSocket) -> None:
        assert socket.url == graphiql.server.ws_url
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", on_websocket)
    token = await graphiql.set_token("replicator")
    await graphiql.run('subscription { changeFeed(model: "Note") { modelId type } }')

    # The token typed into the Headers tab travels in connection_init.
    for _tick in range(100):
        if len(sent) >= 2:
            break
        await page.wait_for_timeout(100)
    assert [message["type"] for message in sent] == ["connection_init", "subscribe"]
    assert sent[0]["payload"] == {"Authorization": f"Bearer {token}"}

    # The server registers the subscription a moment after "subscribe" is sent, and a
    # feed without `since` only streams what comes after: write until one note shows.
    created: list[str] = []
    result = page.locator(RESULT)
    for _attempt in range(10):
        created.append(create_note(graphiql.server, "from the change feed"))
        try:
            await expect(result).to_contain_text(created[-1], timeout=2_000)
            break
        except AssertionError:
            continue
    else:
        pytest.fail(f"no change of {created} reached GraphiQL's result pane")
    await expect(result).to_contain_text("CREATE")
    await page.screenshot(path=str(artifacts / "graphiql-subscription.png"))


async def test_graphiql_subscription_with_an_unknown_token_shows_the_refusal(
    graphiql: GraphiQLPage,
) -> None:
    await graphiql.set_authorization("Bearer not-a-token")
    await graphiql.run('subscription { changeFeed(model: "Note") { modelId } }')
    await expect(graphiql.page.locator(RESULT)).to_contain_text("WebSocket closed (4403)")


@pytest.mark.timeout(900)
def test_committed_bundle_is_what_the_lockfile_builds(tmp_path: Path) -> None:
    """``npm ci`` and the build, in a copy of the project, give the committed files."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to build GraphiQL (Node 20 or later)"
    project = tmp_path / "graphiql"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "out"
    install = [npm, "ci", "--no-audit", "--no-fund"]
    build = [npm, "run", "build", "--", f"--outdir={out}"]
    for command in (install, build):
        done = subprocess.run(
            command, cwd=project, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-3000:]}"

    def files(directory: Path) -> dict[str, bytes]:
        return {
            str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    built, committed = files(out), files(BUNDLE)
    assert sorted(built) == sorted(committed)
    changed = [name for name in built if built[name] != committed[name]]
    rebuild = "cd frontend_demo/graphiql && npm ci && npm run build"
    assert changed == [], f"{changed} differ from the build: run `{rebuild}` and commit"
