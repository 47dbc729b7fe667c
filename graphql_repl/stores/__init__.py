"""Stores, chosen by URL scheme and imported lazily so each driver stays an optional extra."""

from __future__ import annotations

import importlib

from ..errors import MissingDriver
from .base import LogPage, Store, StoredConflict, StoredDoc, WriteBatch
from .tokens import TokenRecord, TokenStore
from .url import StoreURL

SUPPORTED_BACKENDS = {
    "sqlite": "graphql_repl.stores.sqlite:SQLiteStore",
    "mongodb": "graphql_repl.stores.mongodb:MongoStore",
    "mongodb+srv": "graphql_repl.stores.mongodb:MongoStore",
}


#: The package extra that installs each backend's driver (``pip install graphql-repl[...]``).
EXTRAS = {"mongodb": "mongodb", "mongodb+srv": "mongodb"}

#: The driver options that bound how long connecting may take, by scheme: each is given
#: the connect timeout (in milliseconds) unless the URL sets it.
CONNECT_TIMEOUT_OPTIONS = {
    "mongodb": ("serverSelectionTimeoutMS", "connectTimeoutMS"),
    "mongodb+srv": ("serverSelectionTimeoutMS", "connectTimeoutMS"),
}


def create_store(url: StoreURL | str, *, connect_timeout: float | None = None) -> Store:
    """The (unopened) store for ``url``, e.g. ``sqlite:///graphql_repl.db``; a store on a
    server gives up connecting after ``connect_timeout`` seconds (None: the driver's
    default). Raises ``MissingDriver`` when the backend's driver is not installed."""
    url = StoreURL(url)
    if connect_timeout is not None:
        millis = str(max(1, round(connect_timeout * 1000)))
        url = url.with_options(dict.fromkeys(CONNECT_TIMEOUT_OPTIONS.get(url.scheme, ()), millis))
    module_name, class_name = SUPPORTED_BACKENDS[url.scheme].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.startswith(module_name):
            raise
        raise MissingDriver(url.scheme, exc.name, EXTRAS.get(url.scheme)) from exc
    cls = getattr(module, class_name)
    store: Store = cls(url)
    return store


__all__ = [
    "CONNECT_TIMEOUT_OPTIONS",
    "EXTRAS",
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
