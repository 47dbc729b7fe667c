"""A model on this server: its change log, diff, bulk update, conflicts and typed writes.

``LocalModel`` is the local end of replication (a remote server's model is the other kind,
over GraphQL). Every write, whether a typed ``create`` or a replicated update, goes through
the store's ``transact`` so the document and its change entry are one atomic step.

Tenants have id spaces of their own. A document of tenant ``T`` (``tenantId: "T"``) is
stored under the id ``T:<id>``: that is its id for callers that see every tenant, while a
view scoped to ``T`` (a tenant-bound token) reads and writes it as ``<id>``. So two tenants
can use the same id without meeting, and nothing a tenant-bound caller does can tell
whether another tenant uses an id. A document cannot change tenants (its id would).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BadInput, Forbidden, InvalidDocument, NotFound
from ..filters import NOTHING, And, Condition, Filter, Or, conjoin, parse_filter
from ..models import Document, Model, Strategy
from ..settings import Settings
from ..stores.base import Store, StoredConflict, StoredDoc, WriteBatch
from .clocks import DELETED_KEY, WRITTEN_KEY, HybridLogicalClock, is_stamp
from .merge import delete_wins, merge_documents
from .revisions import Relation, join_ancestors, relate, rev_of, sid
from .types import (
    BulkUpdateResult,
    Change,
    ChangeInput,
    ChangePage,
    ChangeType,
    Clock,
    Conflict,
    Diff,
    Resolution,
    Update,
    UpdateResult,
    UpdateStatus,
)

MAX_PAGE = 5000
TENANT_FIELD = "tenantId"
TENANT_SEPARATOR = ":"


def tenant_key(tenant: str, model_id: str) -> str:
    """The stored id of tenant ``tenant``'s document ``model_id``."""
    return f"{tenant}{TENANT_SEPARATOR}{model_id}"


@dataclass(slots=True)
class _Incoming:
    """An update, validated, with its rev and ancestry worked out before the transaction."""

    model_id: str
    content: Document | None  # None for a deletion
    rev: str | None
    prev: str | None
    sid: str
    ancestors: list[str]
    clock: Clock
    error: str | None = None


class LocalModel:
    def __init__(
        self, model: Model, store: Store, clock: HybridLogicalClock, settings: Settings
    ) -> None:
        self.model = model
        self.store = store
        self.clock = clock
        self.settings = settings
        self.tenant: str | None = None

    @property
    def name(self) -> str:
        return self.model.name

    # -- tenant scope ---------------------------------------------------------------------

    def scoped(self, tenant: str | None) -> LocalModel:
        """This model as a tenant-bound token sees it: only documents (and changes and
        conflicts) whose ``tenantId`` is ``tenant``; writes cannot leave the tenant."""
        if tenant is None:
            return self
        view = copy.copy(self)
        view.tenant = tenant
        return view

    def filter(self, where: Any) -> Filter | None:
        """Parse a client's ``where`` and narrow it to this view's tenant (conditions on
        ``id`` are about the tenant's own ids)."""
        parsed = parse_filter(self.model, where)
        if self.tenant is None:
            return parsed
        if TENANT_FIELD not in self.model.by_name:
            return NOTHING
        own = None if parsed is None else _qualify_ids(parsed, tenant_key(self.tenant, ""))
        return conjoin(Condition(TENANT_FIELD, "eq", self.tenant, False), own)

    def _visible(self, doc: StoredDoc) -> bool:
        return self.tenant is None or doc.data.get(TENANT_FIELD) == self.tenant

    def _key(self, model_id: str) -> str:
        """The stored id of the document this view calls ``model_id``."""
        return model_id if self.tenant is None else tenant_key(self.tenant, model_id)

    def _own_id(self, key: str) -> str:
        """The id this view gives the document stored as ``key``."""
        if self.tenant is None:
            return key
        prefix = tenant_key(self.tenant, "")
        return key[len(prefix) :] if key.startswith(prefix) else key

    def _shown(self, data: Document) -> Document:
        """A stored document as this view shows it."""
        if self.tenant is None or "id" not in data:
            return data
        return {**data, "id": self._own_id(data["id"])}

    def _out(self, data: Document | None) -> Document | None:
        return None if data is None else self._shown(data)

    def _claim(self, content: Document) -> Document:
        """``content`` (with this view's id for it) as stored: in this view's tenant
        (filled in when absent), under the tenant's id space."""
        if self.tenant is not None:
            if TENANT_FIELD not in self.model.by_name:
                raise Forbidden(f"A tenant-bound token cannot write {self.name} documents")
            owner = content.get(TENANT_FIELD)
            if owner is not None and owner != self.tenant:
                raise Forbidden("A tenant-bound token can only write documents of its own tenant")
            return {**content, "id": self._key(content["id"]), TENANT_FIELD: self.tenant}
        if TENANT_FIELD not in self.model.by_name:
            return content
        owner = content.get(TENANT_FIELD)
        if owner is None:
            if TENANT_SEPARATOR in content["id"]:
                raise InvalidDocument(
                    f"{self.name}: ids containing {TENANT_SEPARATOR!r} are those of tenant "
                    "documents (a tenantId is missing)"
                )
        elif TENANT_SEPARATOR in owner:
            raise InvalidDocument(f"{self.name}: a tenantId cannot contain {TENANT_SEPARATOR!r}")
        elif not content["id"].startswith(tenant_key(owner, "")):
            raise InvalidDocument(
                f"{self.name}: documents of tenant {owner!r} have ids starting with "
                f"{tenant_key(owner, '')!r} (a document cannot change tenants)"
            )
        return content

    # -- the change log -----------------------------------------------------------------

    async def checkpoint(self) -> str:
        return await self.store.checkpoint(self.name)

    async def changes(
        self,
        since: str | None = None,
        where: Any = None,
        limit: int = 500,
        until: str | None = None,
    ) -> ChangePage:
        if not 1 <= limit <= MAX_PAGE:
            raise BadInput(f"limit must be between 1 and {MAX_PAGE}")
        return await self.changes_matching(since, self.filter(where), limit, until)

    async def changes_matching(
        self, since: str | None, where: Filter | None, limit: int, until: str | None = None
    ) -> ChangePage:
        """``changes`` with a filter already parsed and scoped by ``filter()``."""
        page = await self.store.changes(self.name, since, where, limit, until)
        return ChangePage([self.to_change(d) for d in page.docs], page.checkpoint, page.has_more)

    def to_change(self, doc: StoredDoc) -> Change:
        if doc.deleted:
            kind = ChangeType.DELETE
        else:
            kind = ChangeType.CREATE if doc.prev is None else ChangeType.UPDATE
        return Change(
            self.name,
            self._own_id(doc.model_id),
            kind,
            doc.rev,
            doc.prev,
            doc.checkpoint,
            None if doc.deleted else self._out(doc.data),
            doc.clock,
            doc.ancestors,
        )

    def localize(self, change: Change) -> Change:
        """A change as the unscoped model reported it, as this view shows it."""
        if self.tenant is None:
            return change
        return dataclasses.replace(
            change, model_id=self._own_id(change.model_id), data=self._out(change.data)
        )

    # -- diff ---------------------------------------------------------------------------

    async def diff(self, since: str | None, changes: Sequence[ChangeInput]) -> Diff:
        """LoopBack's diff, ancestry-aware: which remote changes are deltas to apply here and
        which conflict with a change made here after ``since``."""
        for i, c in enumerate(changes):
            if not c.model_id:
                raise BadInput(f"changes[{i}]: modelId must not be empty")
            if (c.type is ChangeType.DELETE) != (c.rev is None):
                raise BadInput(f"changes[{i}]: a DELETE has no rev, a CREATE or UPDATE needs one")
        ids = list(dict.fromkeys(c.model_id for c in changes))
        keys = [self._key(i) for i in ids]
        local = {
            k: d for k, d in (await self.store.get(self.name, keys)).items() if self._visible(d)
        }
        page = await self.store.changes(
            self.name, since, self.filter({"id": {"inq": ids}}), max(len(ids), 1)
        )
        changed_since = {d.model_id for d in page.docs}
        deltas: list[Change] = []
        conflicts: list[Conflict] = []
        for c in changes:
            key = self._key(c.model_id)
            cur = local.get(key)
            relation = _relate(cur, sid(c.rev, c.prev), _ancestors(c.prev, c.revs), {})
            if relation in (Relation.SAME, Relation.STALE):
                continue
            if relation is Relation.DIVERGED and key in changed_since:
                assert cur is not None
                conflicts.append(
                    Conflict(self.name, c.model_id, c.rev, cur.rev, None, self._out(_live(cur)), [])
                )
            else:
                deltas.append(
                    Change(
                        self.name,
                        c.model_id,
                        c.type,
                        c.rev,
                        c.prev,
                        page.checkpoint,
                        None,
                        {},
                        list(_ancestors(c.prev, c.revs)),
                    )
                )
        return Diff(deltas, conflicts)

    # -- bulk update ----------------------------------------------------------------------

    async def bulk_update(self, updates: Sequence[Update]) -> BulkUpdateResult:
        """Apply each update if this side is at its ``prev`` (or already has it); otherwise
        merge per field, or record a conflict. One transaction per chunk; an invalid update
        is rejected alone."""
        results: list[UpdateResult] = []
        conflicts: list[Conflict] = []
        size = self.settings.replication_chunk_size
        for start in range(0, len(updates), size):
            incoming = [self._prepare(u) for u in updates[start : start + size]]
            self.clock.observe(s for i in incoming for s in i.clock.values())
            ids = list(dict.fromkeys(i.model_id for i in incoming if i.error is None))
            _, (chunk_results, chunk_conflicts) = await self.store.transact(
                self.name, ids, functools.partial(self._decide, incoming)
            )
            results.extend(chunk_results)
            conflicts.extend(chunk_conflicts)
        if self.tenant is not None:
            results = [
                dataclasses.replace(r, model_id=self._own_id(r.model_id), data=self._out(r.data))
                for r in results
            ]
        return BulkUpdateResult(results, conflicts, await self.checkpoint())

    def _prepare(self, u: Update) -> _Incoming:
        """The update, in stored ids (its ``model_id`` is the stored id)."""
        own_id = u.model_id if isinstance(u.model_id, str) else ""
        model_id = self._key(own_id) if own_id else ""
        clock = (
            {k: v for k, v in u.clock.items() if is_stamp(v)} if isinstance(u.clock, dict) else {}
        )
        ancestors = _ancestors(u.prev, u.revs)
        try:
            if not model_id:
                raise InvalidDocument("modelId must not be empty")
            if u.type is ChangeType.DELETE:
                return _Incoming(model_id, None, None, u.prev, sid(None, u.prev), ancestors, clock)
            if u.data is None:
                raise InvalidDocument(f"a {u.type.value} needs the whole document in data")
            content = self._claim(self.model.validate(u.data, own_id))
        except (InvalidDocument, Forbidden) as exc:
            return _Incoming(model_id, None, None, None, "", [], {}, exc.message)
        rev = rev_of(content)
        return _Incoming(model_id, content, rev, u.prev, rev, ancestors, clock)

    def _decide(
        self,
        incoming: Sequence[_Incoming],
        current: dict[str, StoredDoc],
        pending: Mapping[str, StoredConflict],
    ) -> tuple[WriteBatch, tuple[list[UpdateResult], list[Conflict]]]:
        writes: dict[str, StoredDoc] = {}
        results: list[UpdateResult] = []
        conflicts: list[Conflict] = []
        recorded: dict[str, StoredConflict] = {}
        for inc in incoming:
            if inc.error is not None:
                results.append(UpdateResult(inc.model_id, UpdateStatus.REJECTED, error=inc.error))
                continue
            cur = current.get(inc.model_id)
            if cur is not None and not self._visible(cur):
                # Only an unscoped caller's id can name another tenant's document, and
                # its own claim already refuses that; kept as a guard.
                error = f"{self.name} {inc.model_id!r} is outside this token's tenant"
                results.append(UpdateResult(inc.model_id, UpdateStatus.REJECTED, error=error))
                continue
            status, new, conflict = self._settle(inc, cur)
            if new is not None:
                writes[inc.model_id] = current[inc.model_id] = new
                recorded.pop(inc.model_id, None)
                results.append(UpdateResult(inc.model_id, status, new.rev, _live(new)))
            elif conflict is not None:
                recorded[inc.model_id] = conflict
                conflicts.append(self._conflict(conflict))
                results.append(UpdateResult(inc.model_id, status, cur.rev if cur else None, None))
            else:
                results.append(UpdateResult(inc.model_id, status, cur.rev if cur else None, None))
        settled = [
            model_id
            for model_id, c in pending.items()
            if model_id in writes and _descends(writes[model_id], sid(c.source_rev, c.source_prev))
        ]
        batch = WriteBatch(list(writes.values()), list(recorded.values()), settled)
        return batch, (results, conflicts)

    def _settle(
        self, inc: _Incoming, cur: StoredDoc | None
    ) -> tuple[UpdateStatus, StoredDoc | None, StoredConflict | None]:
        relation = _relate(cur, inc.sid, inc.ancestors, inc.clock)
        if relation in (Relation.SAME, Relation.STALE):
            assert cur is not None
            if _learns_ancestry(cur, inc, self.settings.history_limit):
                # Same content, but the incoming version knows history this record lacks
                # (e.g. it is a conflict's resolution): keep it, so that the versions it
                # descends from are recognised as stale when they arrive later, and a
                # conflict recorded here against one of them is settled.
                written = max(cur.clock.get(WRITTEN_KEY, ""), inc.clock.get(WRITTEN_KEY, ""))
                clock = {**cur.clock, WRITTEN_KEY: written}
                new = self._successor(inc.model_id, cur, _live(cur), clock, inc)
                return UpdateStatus.UNCHANGED, new, None
            return UpdateStatus.UNCHANGED, None, None
        if relation is Relation.FAST_FORWARD:
            # A deletion of a document this side never had is still recorded (as a
            # tombstone), so that it is relayed to replicas that do have the document.
            clock = self._stamp(inc.content, inc.clock, cur)
            return (
                UpdateStatus.APPLIED,
                self._successor(inc.model_id, cur, inc.content, clock, inc),
                None,
            )
        assert cur is not None  # a missing document is always a fast-forward
        if inc.content is not None and not cur.deleted:
            base = next((cur.bases[a] for a in inc.ancestors if a in cur.bases), None)
            # ``cur`` is not the incoming version's predecessor: a field the incoming version
            # lacks was not removed by it just now (only a stamp it sent can say so).
            clock = {
                k: v
                for k, v in self._stamp(inc.content, inc.clock, cur).items()
                if k in inc.content or k in inc.clock
            }
            merged = merge_documents(self.model, base, inc.content, cur.data, clock, cur.clock)
            if merged.unresolved:
                return UpdateStatus.CONFLICT, None, self._record(inc, cur, merged.both_changed)
            merged.clock[WRITTEN_KEY] = self.clock.now()
            new = self._successor(inc.model_id, cur, merged.data, merged.clock, inc)
            return UpdateStatus.MERGED, new, None
        # One side deleted the document while the other edited it.
        incoming_clock = self._stamp(inc.content, inc.clock, cur)
        if inc.content is None:
            verdict = delete_wins(self.model, incoming_clock, cur.clock)
        else:
            lost = delete_wins(self.model, cur.clock, incoming_clock)
            verdict = None if lost is None else not lost
        if verdict is None:
            default = self.model.default_strategy
            if default is Strategy.SOURCE_WINS:
                verdict = True
            elif default is Strategy.TARGET_WINS:
                verdict = False
            else:
                return UpdateStatus.CONFLICT, None, self._record(inc, cur, [])
        if verdict:  # the incoming side wins
            new = self._successor(inc.model_id, cur, inc.content, incoming_clock, inc)
        else:
            # This side's version wins, as a new version that includes the incoming one.
            clock = {**cur.clock, WRITTEN_KEY: self.clock.now()}
            new = self._successor(inc.model_id, cur, _live(cur), clock, inc)
        return UpdateStatus.MERGED, new, None

    def _stamp(self, content: Document | None, given: Clock, cur: StoredDoc | None) -> Clock:
        """The clock of a version: the sender's stamps where it has them; for other fields,
        the current stamp if the value did not change, else a new stamp (one per write).
        ``WRITTEN_KEY`` is the sender's, or new."""
        if content is None:
            deleted = given.get(DELETED_KEY) or self.clock.now()
            return {DELETED_KEY: deleted, WRITTEN_KEY: given.get(WRITTEN_KEY) or deleted}
        live = cur is not None and not cur.deleted
        old = cur.data if cur is not None and live else {}
        old_clock = cur.clock if cur is not None and live else {}
        now: str | None = None
        clock: Clock = {}
        for name in (content.keys() | old.keys()) if live else content:
            if name == "id":
                continue
            stamp = given.get(name)
            if stamp is None and live:
                stamp = old_clock.get(name) if old.get(name) == content.get(name) else None
            if stamp is None:
                now = now or self.clock.now()
                stamp = now
            clock[name] = stamp
        clock[WRITTEN_KEY] = given.get(WRITTEN_KEY) or now or self.clock.now()
        return clock

    def _successor(
        self,
        model_id: str,
        cur: StoredDoc | None,
        content: Document | None,
        clock: Clock,
        inc: _Incoming | None,
    ) -> StoredDoc:
        """The record that replaces ``cur``: its ancestry joins ``cur``'s and (when it
        merges or applies an incoming version) the incoming one's."""
        limit = self.settings.history_limit
        written_as_sent = inc is not None and content is not None and content is inc.content
        if cur is None and written_as_sent:
            assert inc is not None and content is not None
            # New here, as sent (the common case of a first replication): the sender's
            # ancestry, the rev worked out in _prepare, no merge base to keep.
            ancestors = [a for a in dict.fromkeys(inc.ancestors) if a != inc.rev][:limit]
            return StoredDoc(model_id, inc.rev, None, content, clock, ancestors, {})
        lines: list[Sequence[str]] = []
        bases: dict[str, Document] = {}
        if cur is not None:
            cur_sid = sid(cur.rev, cur.prev)
            lines += [[cur_sid], cur.ancestors]
            if not cur.deleted:
                bases[cur_sid] = cur.data
        if inc is not None:
            lines += [[inc.sid], inc.ancestors]
            if inc.content is not None:
                bases.setdefault(inc.sid, inc.content)
        if cur is not None:
            for key, value in cur.bases.items():
                bases.setdefault(key, value)
        if content is None:
            if cur is None:
                prev = inc.prev if inc is not None else None
            else:
                prev = cur.prev if cur.deleted else cur.rev
            new_sid = sid(None, prev)
            ancestors = [a for a in join_ancestors(limit + 1, *lines) if a != new_sid][:limit]
            data = {"id": model_id}
            if cur is not None:
                for prop in self.model.change_properties:
                    if prop in cur.data:
                        data[prop] = cur.data[prop]
            elif self.tenant is not None and TENANT_FIELD in self.model.by_name:
                data[TENANT_FIELD] = self.tenant
            return StoredDoc(model_id, None, prev, data, clock, ancestors, {})
        rev = inc.rev if written_as_sent and inc is not None and inc.rev else rev_of(content)
        ancestors = [a for a in join_ancestors(limit + 1, *lines) if a != rev][:limit]
        kept = {a: bases[a] for a in ancestors[: self.settings.merge_base_limit] if a in bases}
        prev = None if cur is None else cur.rev
        return StoredDoc(model_id, rev, prev, content, clock, ancestors, kept)

    def _record(self, inc: _Incoming, cur: StoredDoc, fields: list[str]) -> StoredConflict:
        return StoredConflict(
            model_id=inc.model_id,
            source_rev=inc.rev,
            target_rev=cur.rev,
            source_data=inc.content,
            target_data=_live(cur),
            match_data=cur.data,
            fields=fields,
            source_prev=inc.prev,
            source_clock=inc.clock,
            source_ancestors=inc.ancestors,
        )

    def _conflict(self, c: StoredConflict) -> Conflict:
        return Conflict(
            self.name,
            self._own_id(c.model_id),
            c.source_rev,
            c.target_rev,
            self._out(c.source_data),
            self._out(c.target_data),
            c.fields,
        )

    # -- conflicts ------------------------------------------------------------------------

    async def conflicts(self, where: Any = None) -> list[Conflict]:
        stored = await self.store.conflicts(self.name, self.filter(where))
        return [self._conflict(c) for c in stored]

    async def resolve_conflict(
        self, model_id: str, using: Resolution, data: Any = None
    ) -> Document | None:
        """Settle a recorded conflict: SOURCE writes the source side, TARGET keeps this side
        (marked as winning), MANUAL writes ``data``. Returns the resulting document (None
        when the result is a deletion). The next replication does not raise it again."""
        content: Document | None = None
        if using is Resolution.MANUAL:
            if data is None:
                raise BadInput("A MANUAL resolution needs data")
            content = self._claim(self.model.validate(data, model_id))
        own_id, model_id = model_id, self._key(model_id)

        def decide(
            current: dict[str, StoredDoc], pending: dict[str, StoredConflict]
        ) -> tuple[WriteBatch, Document | None]:
            conflict = pending.get(model_id)
            cur = current.get(model_id)
            if conflict is None or (cur is not None and not self._visible(cur)):
                raise NotFound(f"No conflict is recorded for {self.name} {own_id!r}")
            source = _Incoming(
                model_id,
                conflict.source_data,
                conflict.source_rev,
                conflict.source_prev,
                sid(conflict.source_rev, conflict.source_prev),
                conflict.source_ancestors,
                conflict.source_clock,
            )
            if using is Resolution.SOURCE:
                result = conflict.source_data
            elif using is Resolution.TARGET:
                result = None if cur is None else _live(cur)
            else:
                result = content
            # A resolution is a new write: every field is stamped now.
            new = self._successor(model_id, cur, result, self._stamp(result, {}, None), source)
            return WriteBatch([new], [], [model_id]), _live(new)

        _, result = await self.store.transact(self.name, [model_id], decide)
        return self._out(result)

    # -- typed reads and writes (web apps) ------------------------------------------------

    async def get(self, model_id: str) -> Document | None:
        key = self._key(model_id)
        doc = (await self.store.get(self.name, [key])).get(key)
        return None if doc is None or not self._visible(doc) else self._out(_live(doc))

    async def find(self, where: Any = None, limit: int = 100, offset: int = 0) -> list[Document]:
        if not 1 <= limit <= MAX_PAGE:
            raise BadInput(f"limit must be between 1 and {MAX_PAGE}")
        if offset < 0:
            raise BadInput("offset must not be negative")
        docs = await self.store.find(self.name, self.filter(where), limit, offset)
        return [self._shown(d.data) for d in docs]

    async def create(self, data: Any) -> Document:
        if not isinstance(data, dict):
            raise InvalidDocument(f"{self.name}: a document must be a JSON object")
        model_id = data.get("id")
        if not model_id:
            owner = data.get(TENANT_FIELD) if self.tenant is None else None
            fresh = uuid.uuid4().hex
            model_id = tenant_key(owner, fresh) if isinstance(owner, str) and owner else fresh
        content = self._claim(self.model.validate({**data, "id": model_id}))

        def change(cur: StoredDoc | None) -> Document | None:
            if cur is not None and not cur.deleted:
                raise BadInput(f"{self.name} {model_id!r} already exists")
            return content

        doc = await self._write_one(content["id"], change)
        assert doc is not None
        return doc

    async def update(self, model_id: str, patch: Any) -> Document:
        """Patch a document: fields not given keep their values, null removes a field."""
        if not isinstance(patch, dict):
            raise InvalidDocument(f"{self.name}: a patch must be a JSON object")

        def change(cur: StoredDoc | None) -> Document | None:
            if cur is None or cur.deleted or not self._visible(cur):
                raise NotFound(f"{self.name} {model_id!r} not found")
            return self._claim(self.model.validate({**self._shown(cur.data), **patch}, model_id))

        doc = await self._write_one(self._key(model_id), change)
        assert doc is not None
        return doc

    async def delete(self, model_id: str) -> bool:
        """Delete a document; False when there was nothing this view may delete."""
        deleted = False

        def change(cur: StoredDoc | None) -> Document | None:
            nonlocal deleted
            if cur is not None and not self._visible(cur):
                raise NotFound(f"{self.name} {model_id!r} not found")
            deleted = cur is not None and not cur.deleted
            return None

        try:
            await self._write_one(self._key(model_id), change)
        except NotFound:
            return False
        return deleted

    async def _write_one(
        self, model_id: str, change: Callable[[StoredDoc | None], Document | None]
    ) -> Document | None:
        def decide(
            current: dict[str, StoredDoc], pending: dict[str, StoredConflict]
        ) -> tuple[WriteBatch, Document | None]:
            cur = current.get(model_id)
            content = change(cur)
            unchanged = (
                (cur is None or cur.deleted)
                if content is None
                else (cur is not None and cur.rev == rev_of(content))
            )
            if unchanged:
                return WriteBatch(), None if cur is None else _live(cur)
            new = self._successor(model_id, cur, content, self._stamp(content, {}, cur), None)
            return WriteBatch([new]), _live(new)

        _, result = await self.store.transact(self.name, [model_id], decide)
        return self._out(result)


def _relate(
    cur: StoredDoc | None, remote_sid: str, remote_ancestors: Sequence[str], remote_clock: Clock
) -> Relation:
    """How a remote version relates to this side's record of the document."""
    if cur is None:
        return relate(None, [], remote_sid, remote_ancestors)
    return relate(
        sid(cur.rev, cur.prev),
        cur.ancestors,
        remote_sid,
        remote_ancestors,
        cur.clock.get(WRITTEN_KEY, ""),
        remote_clock.get(WRITTEN_KEY, ""),
    )


def _qualify_ids(node: Filter, prefix: str) -> Filter:
    """``node`` with its conditions on ``id`` moved into the id space ``prefix`` starts."""
    if isinstance(node, And):
        return And(tuple(_qualify_ids(p, prefix) for p in node.parts))
    if isinstance(node, Or):
        return Or(tuple(_qualify_ids(p, prefix) for p in node.parts))
    if node.field != "id":
        return node
    value = node.value
    if isinstance(value, str):
        value = prefix + value
    elif isinstance(value, tuple | list):
        value = tuple(prefix + v if isinstance(v, str) else v for v in value)
    return dataclasses.replace(node, value=value)


def _ancestors(prev: str | None, revs: Sequence[str] | None) -> list[str]:
    if revs:
        return [r for r in revs if isinstance(r, str)]
    return [prev] if prev else []


def _live(doc: StoredDoc) -> Document | None:
    return None if doc.deleted else doc.data


def _learns_ancestry(cur: StoredDoc, inc: _Incoming, limit: int) -> bool:
    """Whether ``inc`` (at or behind ``cur``) names states ``cur``'s ancestry lacks, with
    room to keep them (bounded, so replicas cannot keep rewriting the same content)."""
    if len(cur.ancestors) >= limit:
        return False
    known = {sid(cur.rev, cur.prev), *cur.ancestors}
    return inc.sid not in known or any(a not in known for a in inc.ancestors)


def _descends(doc: StoredDoc, state: str) -> bool:
    return sid(doc.rev, doc.prev) == state or state in doc.ancestors
