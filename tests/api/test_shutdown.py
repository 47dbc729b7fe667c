"""Clean shutdown: SIGTERM with an open changeFeed subscription."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import pytest
from gql.transport.exceptions import TransportError
from websockets.exceptions import ConnectionClosed

from .helpers import PROTOCOLS, Api, Feed, FeedCompleted, uid

EXIT_WITHIN = 10.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sigterm_with_an_open_subscription_exits_cleanly(server_factory, protocol):
    server = server_factory.start()
    token = server.token("admin")
    api = Api(server, token)
    since = await api.checkpoint()
    note_id = uid("bye-")
    await api.create_note(id=note_id)
    async with Feed(server, token, since=since, protocol=protocol) as feed:
        assert (await feed.next())["modelId"] == note_id  # the subscription is live
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(server.process.wait, EXIT_WITHIN + 5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit after SIGTERM:\n{server.log_text()[-3000:]}")
        elapsed = time.monotonic() - started
        # The subscriber learns that the stream ended: completion, an error, or a close.
        with pytest.raises(
            (FeedCompleted, ConnectionClosed, TransportError, TimeoutError)
        ) as ended:
            await asyncio.wait_for(feed.next(), EXIT_WITHIN)
        assert not isinstance(ended.value, TimeoutError), "the subscriber was left hanging"
    assert code == 0, server.log_text()[-3000:]
    assert elapsed < EXIT_WITHIN, f"took {elapsed:.1f} s to exit"
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
