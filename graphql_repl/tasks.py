"""Background tasks stopped for certain.

On Python 3.11 a cancellation that arrives just as an ``asyncio.timeout`` (or
``wait_for``) inside the task expires can be swallowed, and awaiting the task after one
``cancel()`` would then wait forever (seen as a server that never finished closing its
store). ``stop`` cancels again until the task is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

#: How long one cancellation is given before the task is cancelled again.
GRACE = 1.0


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended (its result or error is dropped)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=GRACE)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
