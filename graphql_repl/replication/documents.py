"""Typed document writes and reads, for web apps: get, find, create, update (a patch) and
delete, each answering with the document's state (content and rev). Each write is one
transaction with its change entry, like every other write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BadInput, InvalidDocument, NotFound
from ..filters import Filter
from ..models import Document
from ..stores.base import Store, StoredConflict, StoredDoc, WriteBatch
from .changelog import state_of
from .revisions import rev_of
from .types import DocumentState
from .versions import Versioning

# What a typed write makes of the current record (None: delete it).
Change = Callable[[StoredDoc | None], Document | None]


class Documents:
    """One model's documents in one scope."""

    def __init__(self, store: Store, versioning: Versioning) -> None:
        self.store = store
        self.versioning = versioning
        self.scope = versioning.scope
        self.name = versioning.model.name

    async def get(self, model_id: str) -> DocumentState | None:
        """The live document ``model_id`` (None when there is none in this scope)."""
        key = self.scope.key(model_id)
        doc = (await self.store.get(self.name, [key])).get(key)
        if doc is None or doc.deleted or not self.scope.visible(doc.data):
            return None
        return state_of(doc, self.scope)

    async def find(self, where: Filter | None, limit: int, offset: int) -> list[DocumentState]:
        """Live documents matching ``where`` (already narrowed to the scope), by id."""
        docs = await self.store.find(self.name, where, limit, offset)
        return [state_of(d, self.scope) for d in docs]

    async def create(self, data: Any) -> DocumentState:
        if not isinstance(data, dict):
            raise InvalidDocument(f"{self.name}: a document must be a JSON object")
        model_id = data.get("id") or self.scope.new_id(data)
        content = self.scope.claim(self.versioning.model.validate({**data, "id": model_id}))

        def change(cur: StoredDoc | None) -> Document | None:
            if cur is not None and not cur.deleted:
                raise BadInput(f"{self.name} {model_id!r} already exists")
            return content

        doc = await self._write_one(content["id"], change)
        assert doc is not None
        assert not doc.deleted
        return doc

    async def update(self, model_id: str, patch: Any) -> DocumentState:
        """Patch a document: fields not given keep their values, null removes a field."""
        if not isinstance(patch, dict):
            raise InvalidDocument(f"{self.name}: a patch must be a JSON object")
        scope, model = self.scope, self.versioning.model

        def change(cur: StoredDoc | None) -> Document | None:
            if cur is None or cur.deleted or not scope.visible(cur.data):
                raise NotFound(f"{self.name} {model_id!r} not found")
            return scope.claim(model.validate({**scope.shown(cur.data), **patch}, model_id))

        doc = await self._write_one(scope.key(model_id), change)
        assert doc is not None
        assert not doc.deleted
        return doc

    async def delete(self, model_id: str) -> bool:
        """Delete a document; False when there was nothing this scope may delete."""
        deleted = False

        def change(cur: StoredDoc | None) -> Document | None:
            nonlocal deleted
            if cur is not None and not self.scope.visible(cur.data):
                raise NotFound(f"{self.name} {model_id!r} not found")
            deleted = cur is not None and not cur.deleted
            return None

        try:
            await self._write_one(self.scope.key(model_id), change)
        except NotFound:
            return False
        return deleted

    async def _write_one(self, key: str, change: Change) -> DocumentState | None:
        """Write what ``change`` makes of the record of ``key``; the record's state after
        (None when there is none)."""
        versioning = self.versioning

        def decide(
            current: dict[str, StoredDoc], pending: dict[str, StoredConflict]
        ) -> tuple[WriteBatch, StoredDoc | None]:
            cur = current.get(key)
            content = change(cur)
            unchanged = (
                (cur is None or cur.deleted)
                if content is None
                else (cur is not None and cur.rev == rev_of(content))
            )
            if unchanged:
                return WriteBatch(), cur
            clock = versioning.stamp(content, {}, cur)
            new = versioning.successor(key, cur, content, clock, None)
            return WriteBatch([new]), new

        _, result = await self.store.transact(self.name, [key], decide)
        return None if result is None else state_of(result, self.scope)
