"""Tenancy: which documents of a model one caller sees, and under which ids.

Tenants have id spaces of their own. A document of tenant ``T`` (its model's tenant field,
e.g. ``tenantId``, is ``"T"``) is stored under the id ``T:<id>``: that is its id for callers
that see every tenant, while a caller bound to ``T`` (a tenant-bound token) reads and writes
it as ``<id>``. So two tenants can use the same id without meeting, and nothing a
tenant-bound caller does can tell whether another tenant uses an id. A document cannot
change tenants (its id would).

``TenantScope`` is the one place these rules live: every read, write, filter, change,
conflict and feed event of a model passes through the scope of the caller.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Forbidden, InvalidDocument
from ..filters import NOTHING, And, Condition, Filter, Or, conjoin
from ..models import Document, Model

SEPARATOR = ":"


def valid_tenant(tenant: object) -> bool:
    """Tenant names: non-empty, without the separator of tenant ids (``T:<id>``)."""
    return isinstance(tenant, str) and bool(tenant) and SEPARATOR not in tenant


def tenant_key(tenant: str, model_id: str) -> str:
    """The stored id of tenant ``tenant``'s document ``model_id``."""
    return f"{tenant}{SEPARATOR}{model_id}"


@dataclass(frozen=True, slots=True)
class TenantScope:
    """One model as one caller sees it: every tenant's documents (``tenant`` None), or only
    those of ``tenant``, under that tenant's own ids. Pure id mapping and checks; no I/O."""

    model: Model
    tenant: str | None = None

    @property
    def field(self) -> str | None:
        """The model's tenant field (None: the model has no tenants)."""
        return self.model.tenant_field

    def key(self, own_id: str) -> str:
        """The stored id of the document this scope calls ``own_id``."""
        return own_id if self.tenant is None else tenant_key(self.tenant, own_id)

    def own_id(self, key: str) -> str:
        """The id this scope gives the document stored as ``key``."""
        if self.tenant is None:
            return key
        prefix = tenant_key(self.tenant, "")
        return key[len(prefix) :] if key.startswith(prefix) else key

    def shown(self, data: Document) -> Document:
        """A stored document as this scope shows it."""
        if self.tenant is None or "id" not in data:
            return data
        return {**data, "id": self.own_id(data["id"])}

    def shown_or_none(self, data: Document | None) -> Document | None:
        return None if data is None else self.shown(data)

    def visible(self, data: Mapping[str, Any]) -> bool:
        """Whether the stored document (or tombstone) ``data`` is in this scope."""
        if self.tenant is None:
            return True
        return self.field is not None and data.get(self.field) == self.tenant

    def narrow(self, where: Filter | None) -> Filter | None:
        """A parsed ``where`` narrowed to this scope (its conditions on ``id`` are about
        this scope's own ids)."""
        if self.tenant is None:
            return where
        if self.field is None:
            return NOTHING
        own = None if where is None else _qualify_ids(where, tenant_key(self.tenant, ""))
        return conjoin(Condition(self.field, "eq", self.tenant, False), own)

    def new_id(self, data: Mapping[str, Any]) -> str:
        """A fresh id for a document created without one (in its tenant's id space when an
        unscoped caller creates a tenant's document)."""
        fresh = uuid.uuid4().hex
        owner = data.get(self.field) if self.tenant is None and self.field is not None else None
        return tenant_key(owner, fresh) if isinstance(owner, str) and owner else fresh

    def claim(self, content: Document) -> Document:
        """Validated ``content`` (with this scope's id for it) as stored: in this scope's
        tenant (filled in when absent), under the tenant's id space. Refuses a document
        that would leave the scope, or an unscoped tenant document with the wrong id."""
        name, field = self.model.name, self.field
        if self.tenant is not None:
            if field is None:
                raise Forbidden(f"A tenant-bound token cannot write {name} documents")
            owner = content.get(field)
            if owner is not None and owner != self.tenant:
                raise Forbidden("A tenant-bound token can only write documents of its own tenant")
            return {**content, "id": self.key(content["id"]), field: self.tenant}
        if field is None:
            return content
        owner = content.get(field)
        if owner is None:
            if SEPARATOR in content["id"]:
                raise InvalidDocument(
                    f"{name}: ids containing {SEPARATOR!r} are those of tenant documents "
                    f"(a {field} is missing)"
                )
        elif SEPARATOR in owner:
            raise InvalidDocument(f"{name}: a {field} cannot contain {SEPARATOR!r}")
        elif not content["id"].startswith(tenant_key(owner, "")):
            raise InvalidDocument(
                f"{name}: documents of tenant {owner!r} have ids starting with "
                f"{tenant_key(owner, '')!r} (a document cannot change tenants)"
            )
        return content

    def tombstone_of_new(self, key: str) -> Document:
        """The tombstone data of a document deleted before this side ever had it."""
        if self.tenant is not None and self.field is not None:
            return {"id": key, self.field: self.tenant}
        return {"id": key}


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
