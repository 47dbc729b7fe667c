"""Files the tests leave for people to look at (fuzz counts, screenshots), in
``test-artifacts/`` at the top of the repository (ignored by git)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def artifacts_dir() -> Path:
    """``test-artifacts/``, made if it is not there yet."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def write_artifact(name: str, content: dict[str, Any]) -> Path:
    """Merge ``content`` into the JSON object in ``test-artifacts/<name>``; returns its path."""
    path = artifacts_dir() / name
    merged: dict[str, Any] = {}
    if path.exists():
        try:
            merged = json.loads(path.read_text())
        except ValueError:
            merged = {}
    merged.update(content)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return path
