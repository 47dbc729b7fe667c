"""What every subscription field shares: it is served over WebSocket only, counts against
the connection's limit, and re-checks its caller's token while it is open."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from ..errors import BadInput
from ..replication.feed import Feed
from .context import Context
from .lanes import Lane
from .operations import results_sent

T = TypeVar("T")


def check_can_subscribe(context: Context) -> None:
    """Refuse a subscription over HTTP, or beyond the connection's limit."""
    if not context.over_websocket:
        raise BadInput(
            "Subscriptions are served over WebSocket (graphql-transport-ws or graphql-ws) "
            "on this same path"
        )
    most = context.settings.max_subscriptions
    if context.subscriptions >= most:
        raise BadInput(
            f"At most {most} subscriptions per connection; complete one before starting another"
        )


async def counted(
    context: Context, events: AsyncIterator[T], render: Callable[[T], object]
) -> AsyncGenerator[object, None]:
    """``events`` rendered for GraphQL, counted as one of the connection's subscriptions
    while open.

    A feed ends only when the server stops. The subscription then stays open until the
    server closes the connection (1012, Service Restart): graphql-ws clients (RxDB, Apollo,
    urql) retry a closed connection and subscribe again, but take a ``complete`` as the
    end of the stream and never ask again.

    Over a WebSocket, events after the first are written by the subscription's fast lane
    where it can render them (api/lanes.py), else handed to Strawberry as the first. Where
    the server allows writes in the caller's step, a live feed's events are written by its
    hub as they are published (``Feed.direct``), while the subscription waits.
    """
    context.subscriptions += 1
    lanes = None
    if context.connection is not None:
        context.connection.served += 1
        lanes = context.connection.lanes
    tally = results_sent.get(None)  # the operation's count of results, for its log line
    lane: Lane | None = None
    direct = events if isinstance(events, Feed) else None
    write_now = lanes.write_now if lanes is not None else None
    task = asyncio.current_task()

    def take(event: T) -> bool:
        # Called by the feed's hub, while this subscription waits for its next event.
        if lane is None or write_now is None or task is None or task.cancelling():
            return False  # a cancelled operation (completed, closing) sends nothing more
        text = lane.frame(render(event))
        if text is None or not write_now(text):
            return False
        if tally is not None:
            tally.results += 1
        return True

    try:
        async for event in events:
            rendered = render(event)
            if lane is not None:
                text = lane.frame(rendered)
                if text is not None:
                    await lane.write(text)
                    if tally is not None:
                        tally.results += 1
                    continue
            # Through Strawberry: the first event, and any the lane cannot render.
            claim = lanes.offer(rendered) if lanes is not None else None
            yield rendered
            if claim is not None and lanes is not None:
                lane = lanes.withdraw(claim) or lane
                if lane is not None and direct is not None and write_now is not None:
                    direct.direct(take)
        await asyncio.Event().wait()  # cancelled when the connection closes
    finally:
        if direct is not None:
            direct.direct(None)
        context.subscriptions -= 1


Recheck = Callable[[], Awaitable[object]]
