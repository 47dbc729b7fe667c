"""schema.graphql at the repository root is exactly what ``graphql-repl export-schema``
prints (regenerate it with ``graphql-repl export-schema > schema.graphql``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_schema() -> str:
    command = Path(sys.executable).with_name("graphql-repl")
    done = subprocess.run(
        [str(command) if command.exists() else "graphql-repl", "export-schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_schema_graphql_is_the_exported_schema():
    committed = (ROOT / "schema.graphql").read_text()
    exported = export_schema()
    assert exported.strip(), "export-schema printed nothing"
    assert committed == exported, (
        "schema.graphql is out of date: run `graphql-repl export-schema > schema.graphql`"
    )
