"""URLs of new, empty stores for tests: a SQLite file in a directory of the test's, or a
database of its own on the session's MongoDB (``mongodb_url``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# The kinds of store every suite that runs on "each store" runs on.
STORE_KINDS = ("sqlite", "mongodb")


def new_store_url(kind: str, directory: Path, name: str, mongodb_url: str | None = None) -> str:
    """A new store of ``kind`` (``sqlite`` or ``mongodb``) named after ``name``."""
    if kind == "sqlite":
        return f"sqlite:///{directory / name}.db"
    if kind != "mongodb" or mongodb_url is None:
        raise ValueError(f"no store of kind {kind!r} (mongodb needs the session's mongodb_url)")
    database = f"{name}_{uuid.uuid4().hex[:10]}"
    return urlunsplit(urlsplit(mongodb_url)._replace(path=f"/{database}"))


async def drop_store(store: object) -> None:
    """Remove the data of the (closed) store at ``store`` (a URL, or the ``StoreURL`` of
    settings) where it outlives the test: a database on a MongoDB server. A SQLite file
    goes with the test's directory."""
    url = getattr(store, "secret", None) or str(store)
    if not url.startswith(("mongodb://", "mongodb+srv://")):
        return
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    try:
        await client.drop_database(urlsplit(url).path.lstrip("/"))
    finally:
        await client.close()
