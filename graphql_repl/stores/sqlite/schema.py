"""The SQLite store's tables, created (and migrated) when the store is opened."""

from __future__ import annotations

import sqlite3
import uuid

from ...errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT,
    prev TEXT,
    data TEXT NOT NULL,
    clock TEXT NOT NULL,
    ancestors TEXT NOT NULL,
    bases TEXT NOT NULL,
    UNIQUE (model, id)
);
-- (model, seq): the change log of a model, a range scan in log order.
CREATE INDEX IF NOT EXISTS documents_log ON documents (model);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant TEXT,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conflicts (
    model TEXT NOT NULL,
    model_id TEXT NOT NULL,
    match_data TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (model, model_id)
) WITHOUT ROWID;
"""
SCHEMA_VERSION = 2


def init_schema(conn: sqlite3.Connection) -> str:
    """Create what is missing, migrate an older schema, and return the store id."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('seq', 0)")
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex[:16],))
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version == 1:  # tokens gained expiry and revocation
        conn.execute("ALTER TABLE tokens ADD COLUMN expires_at REAL")
        conn.execute("ALTER TABLE tokens ADD COLUMN revoked_at REAL")
        conn.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'")
        version = 2
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"The store has schema version {version}; this server expects {SCHEMA_VERSION}"
        )
    (store_id,) = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    return str(store_id)
