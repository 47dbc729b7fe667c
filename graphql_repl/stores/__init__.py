"""Stores, chosen by URL scheme and imported lazily so each driver stays an optional extra."""

from __future__ import annotations

import importlib

from .base import LogPage, Store, StoredConflict, StoredDoc, WriteBatch
from .tokens import TokenRecord, TokenStore
from .url import StoreURL

SUPPORTED_BACKENDS = {
    "sqlite": "graphql_repl.stores.sqlite:SQLiteStore",
    "mongodb": "graphql_repl.stores.mongodb:MongoStore",
    "mongodb+srv": "graphql_repl.stores.mongodb:MongoStore",
}


def create_store(url: StoreURL | str) -> Store:
    """The (unopened) store for ``url``, e.g. ``sqlite:///graphql_repl.db``."""
    url = StoreURL(url)
    module_name, class_name = SUPPORTED_BACKENDS[url.scheme].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    store: Store = cls(url)
    return store


__all__ = [
    "SUPPORTED_BACKENDS",
    "LogPage",
    "Store",
    "StoreURL",
    "StoredConflict",
    "StoredDoc",
    "TokenRecord",
    "TokenStore",
    "WriteBatch",
    "create_store",
]
