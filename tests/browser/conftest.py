"""Browser tests: Debian's ``chromium`` driven by Playwright against a real server.

The set-up installs what it needs by itself: the ``chromium`` Debian package (with
``apt-get`` when it is missing; Playwright's own browser download is never used) and
Playwright's Python package (a dev dependency). Screenshots go to ``test-artifacts/``
at the top of the repository (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from artifacts import artifacts_dir  # tests/artifacts.py
from playwright.async_api import Browser, Page, async_playwright
from servers import Server, ServerFactories, ServerFactory  # tests/servers.py

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            pytest.fail("chromium is missing and apt-get needs root (no sudo found)")
        prefix = [sudo, "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        [*prefix, "apt-get", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, installed with apt-get when it is not there yet."""
    found = shutil.which("chromium")
    if found is None:
        done = _apt_get("install", "-y", "-q", "chromium")
        if done.returncode != 0:
            _apt_get("update", "-q")
            done = _apt_get("install", "-y", "-q", "chromium")
        assert done.returncode == 0, f"apt-get install chromium failed:\n{done.stderr[-3000:]}"
        found = shutil.which("chromium")
    assert found is not None, "chromium is not on PATH after installing it"
    return found


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return artifacts_dir()


@pytest.fixture(scope="session")
def browser_servers(server_factories: ServerFactories) -> ServerFactory:
    """Servers for the browser tests (SQLite files)."""
    return server_factories("sqlite")


@pytest.fixture(scope="session")
def web_server(browser_servers: ServerFactory) -> Server:
    """One server shared by the browser tests; tests isolate themselves by unique ids."""
    return browser_servers.start()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """A headless Debian chromium, started for one test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a fresh browser context."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield await context.new_page()
    finally:
        await context.close()
