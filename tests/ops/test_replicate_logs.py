"""``graphql-repl replicate``'s own log: JSON lines with ``--log-format json``, progress
lines off a terminal, and while following (``--live``) a line at least every heartbeat
interval even when nothing happens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from api.helpers import Api, uid
from remote.helpers import replicate_args
from servers import Server, ServerFactory

from graphql_repl.remote.progress import Progress, Summary

from .helpers import eventually


@pytest.fixture(scope="module")
def pair(factory: ServerFactory) -> Iterator[tuple[Server, Server]]:
    servers = factory.start(), factory.start()
    yield servers
    factory.close(list(servers))


def json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return lines


async def test_a_one_shot_run_logs_json(pair: tuple[Server, Server]) -> None:
    source, target = pair
    await Api(source, source.token("replicator")).bulk(
        "Note", [{"modelId": i, "type": "CREATE", "data": {"id": i}} for i in (uid(), uid())]
    )
    args = replicate_args(source, target, "Note", None, "--log-format", "json")
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["applied"] >= 2  # the summary stays on stdout
    for line in json_lines(stderr.decode()):
        assert {"time", "level", "logger", "message"} <= set(line)


async def test_live_logs_json_while_following(pair: tuple[Server, Server], tmp_path: Path) -> None:
    source, target = pair
    log = tmp_path / "replicate.log"
    args = replicate_args(source, target, "Note", None, "--live", "--log-format", "json")
    with log.open("w") as err:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )
    try:
        await eventually(lambda: "following" in log.read_text(), "the caught-up line")
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = json_lines(log.read_text())
    assert any("caught up" in str(line["message"]) for line in lines)


async def test_heartbeat_logs_while_nothing_happens(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress(Summary("Note", "Note"), interactive=False)
    with caplog.at_level(logging.INFO, logger="graphql_repl.remote.progress"):
        beating = asyncio.create_task(progress.heartbeat(0.1, "following"))
        try:
            await eventually(lambda: len(caplog.records) >= 3, "three heartbeat lines")
        finally:
            beating.cancel()
    record = caplog.records[0]
    assert getattr(record, "event", None) == "replicate.progress"
    assert getattr(record, "state", None) == "following"
    assert "Note: following; 0 changes" in record.getMessage()


async def test_a_terminal_gets_the_bar_not_heartbeat_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = Progress(Summary("Note", "Note"), interactive=True)
    try:
        with caplog.at_level(logging.INFO, logger="graphql_repl.remote.progress"):
            await asyncio.wait_for(progress.heartbeat(0.01, "following"), 5)  # returns at once
        assert caplog.records == []
    finally:
        progress.close()
