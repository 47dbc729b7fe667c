"""Replication between two servers: what ``graphql-repl replicate`` runs.

``ReplicationJob`` copies one model from a source server to a target server with
``replicate()`` over two ``RemoteModel``s: pages of the source's changes go to the target
with ``bulkUpdate`` (carrying per-field clocks and ancestry), and after each page the target
has applied, the checkpoint pair is stored in the state file, so a crash at any moment loses
nothing and the next run goes on from there. With ``live``, it then follows the source's
``changeFeed`` from the last applied checkpoint and pushes what arrives in small batches,
reconnecting with backoff when the feed is lost.

Conflicts the target records are remembered in the state file until they are resolved, and
resolved on the target right away with ``on_conflict="source"`` or ``"target"``. A source
that cannot continue from the stored checkpoint (``ResyncRequired``) is copied again from
the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import PermanentError, ResyncRequired, StateError, TransientError
from ..replication import (
    BulkUpdateResult,
    CheckpointPair,
    Resolution,
    Update,
    UpdateStatus,
    replicate,
)
from ..replication.types import DEFAULT_PAGE_SIZE, Change
from .client import RemoteModel
from .failures import Retry
from .progress import Progress, Summary
from .statefile import State, StateFile

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a ``ReplicationJob`` runs.

    ``where`` copies only the documents matching that filter; ``batch_size`` changes are
    read per page (and pushed per live batch); while catching up, ``in_flight`` pages may
    be sent to the target at once (see ``replicate()``); ``on_conflict`` resolves the conflicts the
    target records for that side at once (None: they stay recorded, and are reported);
    ``live`` follows the source's change feed once caught up, reconnecting as ``retry``
    says; ``interactive`` shows a progress bar, else a log line every ``progress_interval``
    seconds while changes come, and while following one at least every
    ``heartbeat_interval`` seconds.
    """

    where: Any = None
    batch_size: int = DEFAULT_PAGE_SIZE
    in_flight: int = 1
    on_conflict: Resolution | None = None
    live: bool = False
    retry: Retry = field(default_factory=Retry)
    interactive: bool = False
    progress_interval: float = 5.0
    heartbeat_interval: float = 30.0


class Stopped(Exception):
    """A stop was asked for; raised once the batch being pushed is applied and stored."""


class ReplicationJob:
    """Replicates ``source`` into ``target`` as ``options`` say, keeping where it is in
    ``state_file``; ``run()`` returns the ``Summary``.

    ``request_stop()`` (from a signal handler) makes the run end once the batch being
    pushed is applied and its checkpoints stored; it returns True when nothing is being
    pushed, in which case the caller may cancel the run at once."""

    def __init__(
        self,
        source: RemoteModel,
        target: RemoteModel,
        options: JobOptions | None = None,
        state_file: StateFile | None = None,
    ) -> None:
        self.source = source
        self.target = target
        self.options = options or JobOptions()
        self.state_file = state_file
        self.state = State(source.model, target.model, source.url, target.url)
        self.summary = Summary(source.model, target.model)
        self.progress = Progress(
            self.summary, self.options.interactive, self.options.progress_interval
        )
        self.pending: dict[str, None] = {}  # conflict ids left on the target, in order
        self.stopping = False
        self._applying = False
        self._saving: asyncio.Future[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a batch is being pushed, or its checkpoints stored: a stop waits for it."""
        return self.target.pushing or self._applying

    def request_stop(self) -> bool:
        """Stop once the batch being pushed is applied and stored; True when nothing is."""
        self.stopping = True
        return not self.busy

    async def run(self) -> Summary:
        """Catch up (then, with ``live``, follow) until done or stopped; a stop or a
        cancellation ends the run with ``stopped`` set, the checkpoints saved."""
        try:
            await self._run()
        except (Stopped, asyncio.CancelledError):
            self.summary.stopped = True
        finally:
            await asyncio.shield(self._saved())
            self.progress.close()
            self.summary.finished = time.monotonic()
            self.summary.checkpoints = self.state.checkpoints
            self.summary.conflicts = list(self.pending)
        return self.summary

    async def _run(self) -> None:
        self._load_state()
        # Fail at once on a wrong URL, token or model, before reading anything.
        await self.source.checkpoint()
        await self.target.checkpoint()
        await self._catch_up(self.state.checkpoints)
        if self.options.live:
            log.info("%s: caught up; following the source's changes", self.summary.label)
            heartbeat = asyncio.create_task(
                self.progress.heartbeat(self.options.heartbeat_interval, "following")
            )
            try:
                await self._follow()
            finally:
                heartbeat.cancel()
        else:
            await self._settle_conflicts()

    # -- state ------------------------------------------------------------------------

    def _load_state(self) -> None:
        if self.state_file is None:
            return
        stored = self.state_file.load()
        if stored is None:
            return
        if (stored.model, stored.target_model) != (self.state.model, self.state.target_model):
            raise StateError(
                f"state file {self.state_file.path} is for {stored.model} -> "
                f"{stored.target_model}, not {self.state.model} -> {self.state.target_model}"
            )
        for side, was, now in (
            ("source", stored.source, self.source.url),
            ("target", stored.target, self.target.url),
        ):
            if was and was != now:
                log.warning("state file %s was used with %s %s", self.state_file.path, side, was)
        self.state.checkpoints = stored.checkpoints
        self.pending = dict.fromkeys(stored.conflicts)

    async def _save(self) -> None:
        """Store the state as it is now. The write (and its fsync) goes on in a thread while
        the next batch is sent; saves are written in order, each after the one before."""
        self.state.conflicts = list(self.pending)
        if self.state_file is None:
            return
        await self._saved()
        self._saving = asyncio.ensure_future(
            asyncio.to_thread(self.state_file.save, dataclasses.replace(self.state))
        )

    async def _saved(self) -> None:
        """Wait for the last save to be on disk."""
        saving, self._saving = self._saving, None
        if saving is not None:
            await saving

    # -- catching up ----------------------------------------------------------------------

    async def _catch_up(self, since: CheckpointPair) -> None:
        try:
            await self._replicate(since)
        except ResyncRequired as exc:
            self._resync(exc)
            await self._replicate(CheckpointPair())

    def _resync(self, exc: ResyncRequired) -> None:
        log.warning(
            "%s: the source cannot continue from the stored checkpoint (%s); "
            "starting again from no checkpoint: a full copy",
            self.summary.label,
            exc.message,
        )
        self.summary.resynced = True

    async def _replicate(self, since: CheckpointPair) -> None:
        result = await replicate(
            self.source,
            self.target,
            since,
            self.options.where,
            chunk_size=self.options.batch_size,
            keep_updates=False,
            on_chunk=self._applied,
            in_flight=self.options.in_flight,
        )
        self.state.checkpoints = result.checkpoints

    async def _applied(self, pair: CheckpointPair, result: BulkUpdateResult | None) -> None:
        """After the target applied a batch: store the checkpoints, then settle conflicts."""
        self._applying = True
        try:
            self.state.checkpoints = pair
            if result is not None:
                for r in result.results:
                    self.summary.counts[r.status] += 1
                    if r.status is UpdateStatus.REJECTED:
                        self.summary.rejected[r.model_id] = r.error or "rejected"
                        log.warning("%s %s rejected: %s", self.target.model, r.model_id, r.error)
                self.pending.update(dict.fromkeys(c.model_id for c in result.conflicts))
            await self._save()
            if result is not None:
                self.progress.update(len(result.results))
                if result.conflicts and self.options.on_conflict is not None:
                    await self._resolve([c.model_id for c in result.conflicts])
        finally:
            self._applying = False
        if self.stopping:
            raise Stopped()

    # -- conflicts ----------------------------------------------------------------------

    async def _resolve(self, ids: Sequence[str]) -> None:
        using = self.options.on_conflict
        assert using is not None
        for model_id in ids:
            try:
                await self.target.resolve_conflict(model_id, using)
                self.summary.resolved += 1
            except PermanentError as exc:
                if exc.code != "NOT_FOUND":  # NOT_FOUND: resolved meanwhile
                    raise
            self.pending.pop(model_id, None)
        await self._save()

    async def _settle_conflicts(self) -> None:
        """Keep only the remembered conflicts the target still lists; resolve them if asked."""
        if not self.pending:
            return
        listed = {c.model_id for c in await self.target.conflicts()}
        self.pending = {i: None for i in self.pending if i in listed}
        if self.pending and self.options.on_conflict is not None:
            await self._resolve(list(self.pending))
        await self._save()

    # -- following the change feed --------------------------------------------------------

    async def _follow(self) -> None:
        failures = 0
        while True:
            connected = False

            def on_connect() -> None:
                nonlocal connected, failures
                connected, failures = True, 0

            try:
                await self._follow_once(on_connect)
                reason = "the source ended the change feed"
            except _FeedLost as lost:
                reason = lost.reason
            except ResyncRequired as exc:
                self._resync(exc)
                await self._catch_up(CheckpointPair())
                continue
            failures += 1
            retry = self.options.retry
            if retry.attempts and failures >= retry.attempts:
                error = TransientError(reason, self.source.ws_url)
                error.attempts = failures
                raise error
            delay = retry.delay(failures) if not connected else retry.initial
            log.warning(
                "%s; reconnecting in %.1f s from the last applied checkpoint", reason, delay
            )
            await asyncio.sleep(delay)

    async def _follow_once(self, on_connect: Callable[[], None]) -> None:
        """Push what the feed brings until it ends (returns) or is lost (``_FeedLost``)."""
        queue: asyncio.Queue[Change | _End] = asyncio.Queue(maxsize=4 * self.options.batch_size)
        reader = asyncio.create_task(self._read(queue, on_connect))
        try:
            while True:
                batch, end = _take(await queue.get(), queue, self.options.batch_size)
                if batch:
                    await self._push(batch)
                if end is not None:
                    if end.error is not None:
                        raise end.error
                    return
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(
        self, queue: asyncio.Queue[Change | _End], on_connect: Callable[[], None]
    ) -> None:
        try:
            async for change in self.source.feed(
                self.state.checkpoints.source, self.options.where, on_connect=on_connect
            ):
                await queue.put(change)
            await queue.put(_End())
        except TransientError as exc:
            await queue.put(_End(_FeedLost(exc.message)))
        except PermanentError as exc:
            await queue.put(_End(exc))

    async def _push(self, batch: list[Change]) -> None:
        latest: dict[str, Change] = {}
        for change in batch:  # the latest change of each document; ancestry covers the rest
            latest.pop(change.model_id, None)
            latest[change.model_id] = change
        result = await self.target.bulk_update([Update.from_change(c) for c in latest.values()])
        checkpoint = batch[-1].checkpoint
        assert checkpoint is not None
        await self._applied(CheckpointPair(checkpoint, result.checkpoint), result)


@dataclass
class _End:
    """The feed ended: normally, or with ``error``."""

    error: Exception | None = None


class _FeedLost(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _take(
    first: Change | _End, queue: asyncio.Queue[Change | _End], limit: int
) -> tuple[list[Change], _End | None]:
    """``first`` and whatever else is already queued, up to ``limit`` changes."""
    batch: list[Change] = []
    item = first
    while True:
        if isinstance(item, _End):
            return batch, item
        batch.append(item)
        if len(batch) >= limit or queue.empty():
            return batch, None
        item = queue.get_nowait()
