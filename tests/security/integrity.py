"""An integrity check of a stopped server's store, through the package's own store API.

For every model: the live documents (``find``) and the change log (``changes`` since None,
every page) match one to one; every record's rev is the hash of its content; log positions
strictly increase, never repeat, and never pass the log's head; reading the log in small
pages gives exactly the same entries as in large ones; and ``get`` agrees with both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graphql_repl.demo import demo_registry
from graphql_repl.models import Model
from graphql_repl.replication.revisions import rev_of
from graphql_repl.stores import create_store
from graphql_repl.stores.base import Store, StoredDoc
from graphql_repl.stores.checkpoints import decode_checkpoint

PAGE = 1000
SMALL_PAGE = 7
# decode_checkpoint checks a position against the log's head; a bound above any position.
NO_HEAD = 2**64


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    live: dict[str, int] = field(default_factory=dict)  # live documents per model
    log: dict[str, int] = field(default_factory=dict)  # change entries per model

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"live={self.live} log={self.log}"
        if self.ok:
            return f"store intact: {head}"
        shown = "\n  ".join(self.problems[:40])
        more = f"\n  ... and {len(self.problems) - 40} more" if len(self.problems) > 40 else ""
        return f"{len(self.problems)} integrity problems ({head}):\n  {shown}{more}"


async def _all_live(store: Store, model: str) -> list[StoredDoc]:
    out: list[StoredDoc] = []
    while True:
        page = await store.find(model, None, PAGE, len(out))
        out += page
        if len(page) < PAGE:
            return out


async def _all_changes(store: Store, model: str, limit: int) -> list[StoredDoc]:
    out: list[StoredDoc] = []
    since: str | None = None
    while True:
        page = await store.changes(model, since, None, limit)
        out += page.docs
        if page.has_more and page.checkpoint == since:
            raise AssertionError(f"{model}: the change log does not advance at {since!r}")
        since = page.checkpoint
        if not page.has_more:
            return out


async def _check_model(store: Store, model: Model, expected: Iterable[str], report: Report) -> None:
    name = model.name
    problems = report.problems

    def problem(text: str) -> None:
        problems.append(f"{name}: {text}")

    live = await _all_live(store, name)
    log = await _all_changes(store, name, PAGE)
    report.live[name], report.log[name] = len(live), len(log)
    head = decode_checkpoint(await store.checkpoint(name), store.store_id, NO_HEAD)

    # The log: positions strictly increasing, never repeated, never past the head; each
    # document at most once (its latest change).
    last = -1
    by_id: dict[str, StoredDoc] = {}
    for entry in log:
        if entry.checkpoint is None:
            problem(f"log entry {entry.model_id!r} has no checkpoint")
            continue
        position = decode_checkpoint(entry.checkpoint, store.store_id, NO_HEAD)
        if position <= last:
            problem(f"log position {position} of {entry.model_id!r} after {last}")
        if position > head:
            problem(f"log position {position} of {entry.model_id!r} is past the head {head}")
        last = max(last, position)
        if entry.model_id in by_id:
            problem(f"document {entry.model_id!r} appears twice in the log")
        by_id[entry.model_id] = entry
        problems.extend(f"{name}: {p}" for p in _check_record(model, entry))

    # Small pages see exactly what large ones do.
    paged = await _all_changes(store, name, SMALL_PAGE)
    if [(d.model_id, d.checkpoint, d.rev) for d in paged] != [
        (d.model_id, d.checkpoint, d.rev) for d in log
    ]:
        problem(f"pages of {SMALL_PAGE} differ from pages of {PAGE}")

    # Live documents and log entries, one to one.
    live_ids: set[str] = set()
    for doc in live:
        if doc.model_id in live_ids:
            problem(f"live document {doc.model_id!r} listed twice")
        live_ids.add(doc.model_id)
        if doc.deleted:
            problem(f"find() returned the tombstone {doc.model_id!r}")
        problems.extend(f"{name}: {p}" for p in _check_record(model, doc))
        entry = by_id.get(doc.model_id)
        if entry is None:
            problem(f"live document {doc.model_id!r} has no change entry")
        elif (entry.rev, entry.data, entry.checkpoint) != (doc.rev, doc.data, doc.checkpoint):
            problem(
                f"live document {doc.model_id!r} at rev {doc.rev} ({doc.checkpoint}) but its"
                f" latest change is rev {entry.rev} ({entry.checkpoint})"
            )
    for model_id, entry in by_id.items():
        if not entry.deleted and model_id not in live_ids:
            problem(f"change entry {model_id!r} (rev {entry.rev}) has no live document")

    # get() agrees with the log, tombstones included.
    ids = list(by_id)
    got: dict[str, StoredDoc] = {}
    for i in range(0, len(ids), 500):
        got.update(await store.get(name, ids[i : i + 500]))
    for model_id, entry in by_id.items():
        record = got.get(model_id)
        if record is None:
            problem(f"change entry {model_id!r} but get() finds no record")
        elif (record.rev, record.data) != (entry.rev, entry.data):
            problem(f"get({model_id!r}) is at rev {record.rev}, its change entry at {entry.rev}")

    for model_id in expected:
        if model_id not in by_id:
            problem(f"document {model_id!r} that was written is missing from the store")


def _check_record(model: Model, doc: StoredDoc) -> list[str]:
    out = []
    if not isinstance(doc.data, dict) or doc.data.get("id") != doc.model_id:
        out.append(f"record {doc.model_id!r} has data without its id: {doc.data!r:.200}")
        return out
    if doc.deleted:
        allowed = {"id", *model.change_properties}
        if not set(doc.data) <= allowed:
            out.append(f"tombstone {doc.model_id!r} keeps content: {sorted(doc.data)}")
    elif doc.rev != rev_of(doc.data):
        out.append(f"record {doc.model_id!r}: rev {doc.rev} is not the hash of its data")
    return out


async def check_store_async(
    url: str, expected: Mapping[str, Iterable[str]] | None = None
) -> Report:
    """Open the store at ``url`` (its server stopped), check every demo model, close it.
    ``expected``: ids per model that were written and must be in the store."""
    expected = expected or {}
    report = Report()
    store = create_store(url)
    await store.open()
    try:
        for model in demo_registry():
            await _check_model(store, model, expected.get(model.name, ()), report)
    finally:
        await store.close()
    return report


def check_store(url: str, expected: Mapping[str, Iterable[str]] | None = None) -> Report:
    return asyncio.run(check_store_async(url, expected))
