"""The README's "Web apps" recipes are the files the web client tests run, verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .node import PROJECT

README = Path(__file__).resolve().parents[2] / "README.md"


def web_apps_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("\n## Web apps\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"^```[a-z]*\n(.*?)^```$", text[start:end], re.S | re.M)


@pytest.mark.parametrize(
    "recipe", ["rxdb-sync.mjs", "apollo-sync.mjs", "urql/sync.ts", "codegen.yml"]
)
def test_the_readme_shows_the_recipe_as_tested(recipe):
    assert (PROJECT / recipe).read_text() in web_apps_blocks()
