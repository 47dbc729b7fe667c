"""The README's Python examples run as written and print what their comments say."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_python_examples_run_and_print_what_they_claim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert blocks, "the README has no Python examples"
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
        claims = re.findall(r"print\(.*\)\s+# (.+)", block)
        printed = [ast.literal_eval(line) for line in out.getvalue().splitlines()]
        assert printed == [ast.literal_eval(c) for c in claims]
