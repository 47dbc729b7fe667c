"""What the operations tests read from a server: its JSON log lines and its metrics, each
waited for until it says what the test expects (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families
from servers import Server

T = TypeVar("T")
WAIT = 20.0  # seconds; only reached when something is wrong


def log_lines(server: Server) -> list[dict[str, Any]]:
    """Every line the server wrote (stdout and stderr), each parsed as JSON: a line that is
    not JSON fails the test."""
    lines = []
    for line in server.log_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return lines


def events(server: Server, kind: str, **fields: Any) -> list[dict[str, Any]]:
    """The server's log lines of event ``kind`` that have ``fields``."""
    return [
        line
        for line in log_lines(server)
        if line.get("event") == kind and all(line.get(k) == v for k, v in fields.items())
    ]


async def eventually(probe: Callable[[], T], what: str) -> T:
    """``probe()`` once it returns something true (it is asked again as the server works:
    its log is written a moment after it answers)."""
    deadline = time.monotonic() + WAIT
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {WAIT} s")
        await asyncio.sleep(0.05)


async def one_event(server: Server, kind: str, **fields: Any) -> dict[str, Any]:
    """The one log line of ``kind`` with ``fields``, waited for."""
    found = await eventually(lambda: events(server, kind, **fields), f"{kind} {fields}")
    assert len(found) == 1, found
    return found[0]


def base_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


Samples = dict[tuple[str, tuple[Any, ...]], float]


async def scrape(server: Server, token: str | None = None) -> Samples:
    """The server's /metrics, parsed: value by (sample name, sorted label items)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=WAIT) as client:
        response = await client.get(f"{base_url(server)}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value (0 when the series does not exist yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape_until(server: Server, name: str, expected: float, **labels: str) -> Samples:
    """The server's metrics once sample ``name`` (with ``labels``) reads ``expected``."""
    deadline = time.monotonic() + WAIT
    while True:
        samples = await scrape(server)
        if value(samples, name, **labels) == expected:
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} is not {expected} within {WAIT} s")
        await asyncio.sleep(0.05)
