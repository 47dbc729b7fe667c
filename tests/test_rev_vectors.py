"""Revs any language can reproduce: the README's test vectors hold for the code, the
canonical form is RFC 8785's (checked against the ``rfc8785`` library), and orjson's fast
path gives the same bytes wherever it is taken."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from graphql_repl import BadInput, demo_registry
from graphql_repl.replication import rev_of
from graphql_repl.replication.revisions import canonical

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(\{.*\})` \| `(\{.*\})` \| `([0-9a-f]{32})` \|$", re.M)


def _vectors() -> list[tuple[str, str, str]]:
    rows = ROW.findall(README.read_text())
    assert len(rows) >= 5, "the README's test vectors are missing"
    return rows


@pytest.mark.parametrize(("document", "form", "rev"), _vectors())
def test_readme_vectors_hold(document: str, form: str, rev: str) -> None:
    content = json.loads(document)
    assert canonical(content).decode() == form
    assert rfc8785.dumps(content).decode() == form
    assert rev_of(content) == rev
    assert hashlib.sha256(form.encode()).hexdigest()[:32] == rev


def test_a_whole_number_float_and_its_integer_are_one_content() -> None:
    model = demo_registry().get("FinancialRecord")
    from_python = model.validate({"id": "f", "amount": 12.0})
    from_javascript = model.validate({"id": "f", "amount": 12})
    assert rev_of(from_python) == rev_of(from_javascript)


def test_fractional_numbers_with_integers_beyond_doubles_are_refused() -> None:
    with pytest.raises(BadInput, match="2\\^53"):
        rev_of({"id": "x", "a": 0.5, "b": 2**60})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_the_canonical_form_is_rfc8785s(value: object) -> None:
    assert canonical(value) == rfc8785.dumps(value)
