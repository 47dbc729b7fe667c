"""Shared bounds and JSON strategies of the fuzz tests."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("GRAPHQL_REPL_FUZZ_EXAMPLES", "120"))
RANDOM = os.environ.get("GRAPHQL_REPL_FUZZ_RANDOM") == "1"
HTTP_TIMEOUT = 60.0
MODELS = ("Note", "User", "RemoteUser", "FinancialRecord")


def fuzz_settings(examples: int = EXAMPLES) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


FIELDS = ("id", "title", "body", "tags", "views", "tenantId", "name", "email", "amount", "x")
OPERATORS = ("gt", "gte", "lt", "lte", "neq", "inq", "nin", "like", "nlike", "and", "or", "eq")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["t1", "t2", "%", "_", "[a-z]*", "\x00", "seed1", "-1", "1e400"]),
)
keys = st.one_of(st.sampled_from(FIELDS + OPERATORS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
filters = st.recursive(
    st.one_of(
        st.dictionaries(st.sampled_from(FIELDS), scalars, min_size=1, max_size=2),
        st.builds(
            lambda f, op, v: {f: {op: v}},
            st.sampled_from(FIELDS),
            st.sampled_from(OPERATORS),
            st.one_of(scalars, st.lists(scalars, max_size=3)),
        ),
    ),
    lambda inner: st.builds(
        lambda op, parts: {op: parts}, st.sampled_from(["and", "or"]), st.lists(inner, max_size=3)
    ),
    max_leaves=6,
)
