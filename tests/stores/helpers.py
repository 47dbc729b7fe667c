"""Helpers shared by the store conformance tests: records to write and a change-log reader."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql_repl import DEMO_MODELS, Field, FieldType, Model, Registry, Strategy
from graphql_repl.filters import Filter, parse_filter
from graphql_repl.stores import Store, StoredConflict, StoredDoc, WriteBatch

# A model with a field of every filterable type.
ITEM = Model(
    "Item",
    fields=(
        Field("title", FieldType.STRING),
        Field("tags", FieldType.STRING_LIST, Strategy.UNION),
        Field("count", FieldType.INT),
        Field("score", FieldType.FLOAT),
        Field("done", FieldType.BOOLEAN),
        # A change property, like Note's tenantId, but without tenant semantics (tenant
        # documents have ids of the form "<tenant>:<id>"; these filter tests use plain ids).
        Field("ownerId", FieldType.STRING),
    ),
    default_strategy=Strategy.LATEST,
    change_properties=("ownerId",),
)
REGISTRY = Registry((*DEMO_MODELS, ITEM))
MODELS = {m.name: m for m in REGISTRY}


def record(model_id: str, version: int = 1, **fields: Any) -> StoredDoc:
    """A live record at ``version`` (its rev names the id and the version)."""
    prev = None if version == 1 else f"{model_id}@{version - 1}"
    return StoredDoc(
        model_id=model_id,
        rev=f"{model_id}@{version}",
        prev=prev,
        data={"id": model_id, **fields},
        clock={name: f"stamp-{version}" for name in fields},
        ancestors=[f"{model_id}@{v}" for v in range(version - 1, 0, -1)],
        bases={prev: {"id": model_id}} if prev else {},
    )


def tombstone(model_id: str, prev: str, **change_properties: Any) -> StoredDoc:
    """The record of a deleted document: only its id and change properties remain."""
    return StoredDoc(
        model_id=model_id,
        rev=None,
        prev=prev,
        data={"id": model_id, **change_properties},
        clock={"_deleted": "stamp-deleted"},
        ancestors=[prev],
    )


def conflict(model_id: str, target: dict[str, Any] | None, **source: Any) -> StoredConflict:
    """A recorded conflict whose target side is ``target`` (None: the target deleted it)."""
    return StoredConflict(
        model_id=model_id,
        source_rev=f"{model_id}@source",
        target_rev=None if target is None else f"{model_id}@target",
        source_data={"id": model_id, **source},
        target_data=target,
        fields=sorted(source),
        source_prev=f"{model_id}@base",
        source_clock={name: "stamp-source" for name in source},
        source_ancestors=[f"{model_id}@base"],
    )


def fresh(doc: StoredDoc) -> StoredDoc:
    """A copy of ``doc`` without the checkpoint a store assigned to it."""
    return dataclasses.replace(doc, checkpoint=None, clock=dict(doc.clock))


async def put(
    store: Store,
    model: str,
    *docs: StoredDoc,
    conflicts: Iterable[StoredConflict] = (),
    settled: Iterable[str] = (),
) -> list[StoredDoc]:
    """Write ``docs`` (and record / settle conflicts) in one transaction; returns what
    the store reports as written."""
    batch = WriteBatch([fresh(d) for d in docs], list(conflicts), list(settled))
    ids = [d.model_id for d in docs] + [c.model_id for c in batch.conflicts] + batch.settled
    written, result = await store.transact(model, ids, lambda _cur, _pend: (batch, "done"))
    assert result == "done"
    return written


def where(model: str, filter_: Any) -> Filter | None:
    return parse_filter(MODELS[model], filter_)


@dataclass
class Drained:
    docs: list[StoredDoc]
    checkpoint: str
    pages: list[list[StoredDoc]]

    @property
    def ids(self) -> list[str]:
        return [d.model_id for d in self.docs]


async def drain(
    store: Store,
    model: str,
    since: str | None = None,
    filter_: Any = None,
    limit: int = 1000,
    until: str | None = None,
    max_pages: int = 10_000,
) -> Drained:
    """Follow ``changes`` page by page until ``has_more`` is false."""
    parsed = where(model, filter_)
    docs: list[StoredDoc] = []
    pages: list[list[StoredDoc]] = []
    checkpoint = since
    for _ in range(max_pages):
        page = await store.changes(model, checkpoint, parsed, limit, until)
        assert len(page.docs) <= limit, "a page is longer than its limit"
        pages.append(page.docs)
        docs.extend(page.docs)
        checkpoint = page.checkpoint
        if not page.has_more:
            assert checkpoint is not None
            return Drained(docs, checkpoint, pages)
    raise AssertionError(f"changes() still has more after {max_pages} pages")


def ids_of(docs: Sequence[StoredDoc]) -> list[str]:
    return [d.model_id for d in docs]


def content(doc: StoredDoc) -> tuple[Any, ...]:
    """A record's fields that every read returns (``get`` and ``changes`` need not return
    the merge bases)."""
    return (doc.model_id, doc.rev, doc.prev, doc.data, doc.clock, doc.ancestors)
