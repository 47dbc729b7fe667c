"""The browser set-up itself: chromium starts and renders a page of the real server."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page
from servers import Server


async def test_health_page_renders(page: Page, web_server: Server, artifacts: Path) -> None:
    response = await page.goto(web_server.health_url)
    assert response is not None
    assert response.status == 200
    assert '"status"' in await page.content()
    await page.screenshot(path=str(artifacts / "health.png"))
