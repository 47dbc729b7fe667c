"""This process's writes waiting for their log positions (the sequencer reports them)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ...errors import StoreError
from .positions import Version


class Waiters:
    """The future position of each version written here, until it is reported."""

    #: Longest wait of a write for its position.
    timeout = 30.0

    def __init__(self) -> None:
        self._futures: dict[Version, asyncio.Future[int]] = {}

    def __bool__(self) -> bool:
        return bool(self._futures)

    def __len__(self) -> int:
        return len(self._futures)

    def versions(self) -> list[Version]:
        return list(self._futures)

    def expect(self, version: Version) -> asyncio.Future[int]:
        """The future position of a version about to be written (registered before it is
        written: the sequencer may reach it before the write returns)."""
        future = self._futures[version] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, version: Version) -> None:
        """A version ``expect`` was told about was not written after all."""
        self._futures.pop(version, None)

    def report(self, version: Version, pos: int) -> None:
        future = self._futures.pop(version, None)
        if future is not None and not future.done():
            future.set_result(pos)

    def fail(self, message: str) -> None:
        for future in self._futures.values():
            if not future.done():
                future.set_exception(StoreError(message))
        self._futures.clear()

    async def wait(
        self, futures: Mapping[str, asyncio.Future[int]], stopped: bool
    ) -> dict[str, int]:
        """The positions of ``futures`` (by document id), once reported; ``stopped``: the
        sequencer is not running (for the message when they are not reported in time)."""
        if not futures:
            return {}
        done, _ = await asyncio.wait(futures.values(), timeout=self.timeout)
        if len(done) < len(futures):
            given_up = set(futures.values())
            for version in [v for v, f in self._futures.items() if f in given_up]:
                del self._futures[version]
            raise StoreError(
                "Writes were stored but the change log did not record them in time"
                + (": its sequencer stopped" if stopped else "")
            )
        return {model_id: future.result() for model_id, future in futures.items()}
