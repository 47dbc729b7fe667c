"""Stores, chosen by URL scheme and imported lazily so each driver stays an optional extra."""

from __future__ import annotations

import importlib

from .base import LogPage, Store, StoredConflict, StoredDoc, WriteBatch
from .tokens import TokenRecord, TokenStore

SUPPORTED_BACKENDS = {
    "sqlite": "graphql_repl.stores.sqlite:SQLiteStore",
    "mongodb": "graphql_repl.stores.mongodb:MongoStore",
    "mongodb+srv": "graphql_repl.stores.mongodb:MongoStore",
}


def create_store(url: str) -> Store:
    """The (unopened) store for ``url``, e.g. ``sqlite:///graphql_repl.db``."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    target = SUPPORTED_BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in SUPPORTED_BACKENDS)
        raise ValueError(f"Unsupported store URL {url!r}: expected one of {known}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    store: Store = cls(url)
    return store


__all__ = [
    "LogPage",
    "Store",
    "StoredConflict",
    "StoredDoc",
    "TokenRecord",
    "TokenStore",
    "WriteBatch",
    "create_store",
]
