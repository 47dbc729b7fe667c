"""``where`` filters as each store compiles them, checked against expected sets computed here
from the documents written (LoopBack semantics: a missing field is null; ``neq`` and ``nin``
match it, the other comparisons do not; on a list field, equality means membership)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from .helpers import ITEM, ids_of, where

Doc = dict[str, Any]

DOCS: list[Doc] = [
    {
        "id": "a1",
        "title": "Alpha",
        "tags": ["red", "blue"],
        "count": 1,
        "score": 0.5,
        "done": True,
        "ownerId": "t1",
    },
    {
        "id": "a2",
        "title": "alpha",
        "tags": ["blue"],
        "count": 2,
        "score": 2.0,
        "done": False,
        "ownerId": "t2",
    },
    {"id": "b1", "title": "beta*", "tags": [], "count": 3, "score": -1.25, "ownerId": "t1"},
    {"id": "b2", "title": "be?a", "tags": ["green"], "count": -4, "done": True},
    {
        "id": "b3",
        "title": "beta",
        "tags": ["Red"],
        "count": 3,
        "score": 3,
        "done": False,
        "ownerId": "t2",
    },
    {"id": "c1", "title": "[x]y", "count": 0, "score": 1e10, "done": False, "ownerId": "t1"},
    {"id": "c2", "title": "café", "tags": ["red"], "score": 3.0, "ownerId": "t2"},
    {"id": "d1", "title": "100%_sure", "tags": ["a b", "red"], "count": 10},
    {
        "id": "d2",
        "title": "1000 sure",
        "tags": ["*", "?"],
        "count": 1000,
        "score": 0.0,
        "done": True,
    },
    {"id": "e1"},
    {"id": "e2", "title": "line1\nline2", "count": 7, "score": 7, "done": True, "ownerId": "t3"},
    {"id": "f1", "title": "", "tags": ["blue", "green"], "count": 2, "ownerId": "t1"},
    {"id": "Z9", "title": "Zeta", "count": 5, "score": -0.5, "ownerId": "t3"},
]
# Created, then deleted: a tombstone keeps only the id and change properties (ownerId).
DELETED: list[Doc] = [
    {"id": "x1", "title": "Alpha", "tags": ["red"], "count": 1, "done": True, "ownerId": "t1"},
    {"id": "x2", "title": "gone", "count": 99},
]
# Written first and then changed: only the latest content may match.
UPDATED: dict[str, Doc] = {"a2": {"id": "a2", "title": "Alpha2", "tags": ["old"], "count": 50}}
DOCS_BY_ID = {d["id"]: d for d in DOCS}
# Creations in order, then the update, then the deletions: each moves its document last.
LOG_ORDER = [
    *(d["id"] for d in DOCS if d["id"] not in UPDATED),
    *UPDATED,
    *(d["id"] for d in DELETED),
]


def like(field: str, pattern: str) -> Callable[[Doc], bool]:
    """An SQL LIKE, written independently: % any run, _ one character, case-sensitive."""
    regex = re.compile(
        "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern),
        re.DOTALL,
    )
    return lambda d: isinstance(d.get(field), str) and regex.fullmatch(d[field]) is not None


def cmp(field: str, test: Callable[[Any], bool]) -> Callable[[Doc], bool]:
    """A comparison: a missing field never matches."""
    return lambda d: field in d and test(d[field])


def tags(d: Doc) -> list[str]:
    return d.get("tags", [])


CASES: list[tuple[str, Any, Callable[[Doc], bool]]] = [
    # equality, implicit and explicit
    ("eq-string", {"title": "Alpha"}, lambda d: d.get("title") == "Alpha"),
    ("eq-string-explicit", {"title": {"eq": "alpha"}}, lambda d: d.get("title") == "alpha"),
    ("eq-empty-string", {"title": ""}, lambda d: d.get("title") == ""),
    ("eq-int", {"count": 3}, lambda d: d.get("count") == 3),
    ("eq-int-zero", {"count": 0}, lambda d: d.get("count") == 0),
    ("eq-int-from-float", {"count": 3.0}, lambda d: d.get("count") == 3),
    ("eq-float", {"score": 0.5}, lambda d: d.get("score") == 0.5),
    ("eq-float-from-int", {"score": 3}, lambda d: d.get("score") == 3.0),
    ("eq-float-zero", {"score": 0}, lambda d: d.get("score") == 0.0),
    ("eq-bool-true", {"done": True}, lambda d: d.get("done") is True),
    ("eq-bool-false", {"done": False}, lambda d: d.get("done") is False),
    ("eq-id", {"id": "c1"}, lambda d: d["id"] == "c1"),
    # null equality
    ("eq-null-string", {"title": None}, lambda d: "title" not in d),
    ("eq-null-explicit", {"ownerId": {"eq": None}}, lambda d: "ownerId" not in d),
    ("eq-null-int", {"count": None}, lambda d: "count" not in d),
    ("eq-null-bool", {"done": None}, lambda d: "done" not in d),
    ("neq-null-string", {"title": {"neq": None}}, lambda d: "title" in d),
    ("neq-null-float", {"score": {"neq": None}}, lambda d: "score" in d),
    ("eq-null-list", {"tags": None}, lambda d: "tags" not in d),
    ("neq-null-list", {"tags": {"neq": None}}, lambda d: "tags" in d),
    # neq
    ("neq-string", {"title": {"neq": "Alpha"}}, lambda d: d.get("title") != "Alpha"),
    ("neq-int", {"count": {"neq": 3}}, lambda d: d.get("count") != 3),
    ("neq-float", {"score": {"neq": 3}}, lambda d: d.get("score") != 3.0),
    ("neq-bool-true", {"done": {"neq": True}}, lambda d: d.get("done") is not True),
    ("neq-bool-false", {"done": {"neq": False}}, lambda d: d.get("done") is not False),
    ("neq-owner", {"ownerId": {"neq": "t1"}}, lambda d: d.get("ownerId") != "t1"),
    # ordering
    ("gt-int", {"count": {"gt": 2}}, cmp("count", lambda v: v > 2)),
    ("gte-int", {"count": {"gte": 2}}, cmp("count", lambda v: v >= 2)),
    ("lt-int", {"count": {"lt": 1}}, cmp("count", lambda v: v < 1)),
    ("lte-int", {"count": {"lte": 1}}, cmp("count", lambda v: v <= 1)),
    ("lt-int-negative", {"count": {"lt": -3}}, cmp("count", lambda v: v < -3)),
    ("gt-int-large", {"count": {"gt": 999}}, cmp("count", lambda v: v > 999)),
    ("range-int", {"count": {"gt": 0, "lte": 3}}, cmp("count", lambda v: 0 < v <= 3)),
    ("gt-float", {"score": {"gt": 0.5}}, cmp("score", lambda v: v > 0.5)),
    ("gte-float-from-int", {"score": {"gte": 3}}, cmp("score", lambda v: v >= 3)),
    ("lt-float", {"score": {"lt": 0}}, cmp("score", lambda v: v < 0)),
    ("lte-float", {"score": {"lte": 0.0}}, cmp("score", lambda v: v <= 0)),
    ("gt-float-huge", {"score": {"gt": 1e9}}, cmp("score", lambda v: v > 1e9)),
    ("gt-bool", {"done": {"gt": False}}, cmp("done", lambda v: v > False)),
    ("lte-bool", {"done": {"lte": False}}, cmp("done", lambda v: v <= False)),
    ("gt-string", {"title": {"gt": "Zeta"}}, cmp("title", lambda v: v > "Zeta")),
    ("gte-string", {"title": {"gte": "beta"}}, cmp("title", lambda v: v >= "beta")),
    ("lt-string", {"title": {"lt": "a"}}, cmp("title", lambda v: v < "a")),
    ("lte-string", {"title": {"lte": "Alpha"}}, cmp("title", lambda v: v <= "Alpha")),
    ("gt-string-unicode", {"title": {"gt": "caf"}}, cmp("title", lambda v: v > "caf")),
    ("range-id", {"id": {"gte": "b", "lt": "d"}}, lambda d: "b" <= d["id"] < "d"),
    # inq / nin
    (
        "inq-string",
        {"title": {"inq": ["Alpha", "beta", "nope"]}},
        lambda d: d.get("title") in ("Alpha", "beta"),
    ),
    ("inq-int", {"count": {"inq": [1, 3, 99]}}, lambda d: d.get("count") in (1, 3, 99)),
    ("inq-float", {"score": {"inq": [0.5, 3]}}, lambda d: d.get("score") in (0.5, 3.0)),
    ("inq-bool", {"done": {"inq": [False]}}, lambda d: d.get("done") is False),
    ("inq-empty", {"title": {"inq": []}}, lambda d: False),
    ("inq-id", {"id": {"inq": ["a1", "e1", "x1", "zz"]}}, lambda d: d["id"] in ("a1", "e1", "x1")),
    (
        "nin-string",
        {"title": {"nin": ["Alpha", "beta"]}},
        lambda d: d.get("title") not in ("Alpha", "beta"),
    ),
    ("nin-int", {"count": {"nin": [1, 3]}}, lambda d: d.get("count") not in (1, 3)),
    ("nin-bool", {"done": {"nin": [True]}}, lambda d: d.get("done") is not True),
    ("nin-empty", {"count": {"nin": []}}, lambda d: True),
    (
        "nin-tenant",
        {"ownerId": {"nin": ["t1", "t2"]}},
        lambda d: d.get("ownerId") not in ("t1", "t2"),
    ),
    # list fields: membership
    ("list-eq", {"tags": "red"}, lambda d: "red" in tags(d)),
    ("list-eq-case-sensitive", {"tags": "Red"}, lambda d: "Red" in tags(d)),
    ("list-eq-space", {"tags": {"eq": "a b"}}, lambda d: "a b" in tags(d)),
    ("list-eq-star", {"tags": "*"}, lambda d: "*" in tags(d)),
    ("list-neq", {"tags": {"neq": "red"}}, lambda d: "red" not in tags(d)),
    (
        "list-inq",
        {"tags": {"inq": ["green", "Red"]}},
        lambda d: bool({"green", "Red"} & set(tags(d))),
    ),
    ("list-inq-empty", {"tags": {"inq": []}}, lambda d: False),
    ("list-nin", {"tags": {"nin": ["red", "blue"]}}, lambda d: not {"red", "blue"} & set(tags(d))),
    ("list-nin-empty", {"tags": {"nin": []}}, lambda d: True),
    # like: % any run, _ one character, case-sensitive, other characters literal
    ("like-exact", {"title": {"like": "Alpha"}}, like("title", "Alpha")),
    ("like-prefix", {"title": {"like": "A%"}}, like("title", "A%")),
    ("like-prefix-lower", {"title": {"like": "a%"}}, like("title", "a%")),
    ("like-suffix", {"title": {"like": "%lpha"}}, like("title", "%lpha")),
    ("like-contains", {"title": {"like": "%et%"}}, like("title", "%et%")),
    ("like-any", {"title": {"like": "%"}}, like("title", "%")),
    ("like-empty", {"title": {"like": ""}}, like("title", "")),
    ("like-one-char", {"title": {"like": "be_a"}}, like("title", "be_a")),
    ("like-one-unicode-char", {"title": {"like": "caf_"}}, like("title", "caf_")),
    ("like-underscores", {"title": {"like": "_____"}}, like("title", "_____")),
    ("like-literal-star", {"title": {"like": "%*"}}, like("title", "%*")),
    ("like-star-is-not-a-wildcard", {"title": {"like": "beta*"}}, like("title", "beta*")),
    ("like-literal-question-mark", {"title": {"like": "be?a"}}, like("title", "be?a")),
    ("like-literal-brackets", {"title": {"like": "[x]%"}}, like("title", "[x]%")),
    ("like-open-bracket", {"title": {"like": "%[%"}}, like("title", "%[%")),
    ("like-bracket-is-not-a-class", {"title": {"like": "[a-z]%"}}, like("title", "[a-z]%")),
    ("like-percent-in-data", {"title": {"like": "100%"}}, like("title", "100%")),
    ("like-underscore-in-data", {"title": {"like": "100%_sure"}}, like("title", "100%_sure")),
    ("like-across-newline", {"title": {"like": "line1%"}}, like("title", "line1%")),
    ("like-id", {"id": {"like": "a%"}}, like("id", "a%")),
    ("like-id-one-char", {"id": {"like": "_1"}}, like("id", "_1")),
    # and / or / nesting
    (
        "and-implicit",
        {"ownerId": "t1", "done": False},
        lambda d: d.get("ownerId") == "t1" and d.get("done") is False,
    ),
    (
        "and-explicit",
        {"and": [{"count": {"gte": 1}}, {"tags": "blue"}]},
        lambda d: d.get("count", -99) >= 1 and "blue" in tags(d),
    ),
    (
        "or",
        {"or": [{"count": {"gt": 5}}, {"tags": "green"}]},
        lambda d: d.get("count", -99) > 5 or "green" in tags(d),
    ),
    ("or-single", {"or": [{"title": "beta"}]}, lambda d: d.get("title") == "beta"),
    (
        "or-null-or-empty",
        {"or": [{"title": None}, {"title": ""}]},
        lambda d: d.get("title") in (None, ""),
    ),
    (
        "and-of-or",
        {"and": [{"ownerId": "t1"}, {"or": [{"done": True}, {"score": {"lt": 0}}]}]},
        lambda d: d.get("ownerId") == "t1" and (d.get("done") is True or d.get("score", 0) < 0),
    ),
    (
        "or-of-and-nested",
        {
            "or": [
                {
                    "and": [
                        {"count": {"gte": 2}},
                        {"or": [{"tags": "blue"}, {"title": {"like": "%*"}}]},
                    ]
                },
                {"ownerId": "t3", "score": {"gt": 0}},
                {"id": "e1"},
            ]
        },
        lambda d: (
            (d.get("count", -99) >= 2 and ("blue" in tags(d) or like("title", "%*")(d)))
            or (d.get("ownerId") == "t3" and d.get("score", 0) > 0)
            or d["id"] == "e1"
        ),
    ),
    (
        "and-with-field-and-operator-keys",
        {"and": [{"ownerId": {"neq": "t1"}}, {"count": {"nin": [3]}}], "tags": {"neq": "blue"}},
        lambda d: d.get("ownerId") != "t1" and d.get("count") != 3 and "blue" not in tags(d),
    ),
]


def tombstone_data(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k == "id" or k in ITEM.change_properties}


@pytest.fixture
async def items(repo):
    model = repo.model("Item")
    for doc in [*DOCS, *DELETED]:
        created = await model.create(UPDATED.get(doc["id"], doc))
        assert created == UPDATED.get(doc["id"], doc)
    for model_id in UPDATED:
        replaced = {k: None for k in UPDATED[model_id]} | DOCS_BY_ID[model_id]
        await model.update(model_id, replaced)
    for doc in DELETED:
        assert await model.delete(doc["id"]) is True
    assert await model.find(limit=100) == sorted(DOCS, key=lambda d: d["id"])
    return model


@pytest.mark.parametrize(("filter_", "matches"), [pytest.param(w, p, id=n) for n, w, p in CASES])
async def test_find_matches_exactly_the_expected_documents(items, filter_, matches):
    expected = sorted(d["id"] for d in DOCS if matches(d))

    found = await items.find(filter_, limit=100)

    assert [d["id"] for d in found] == expected
    assert found == [DOCS_BY_ID[i] for i in expected]


@pytest.mark.parametrize(("filter_", "matches"), [pytest.param(w, p, id=n) for n, w, p in CASES])
async def test_changes_match_exactly_the_expected_changes(items, filter_, matches):
    """Tombstones are matched on what they keep: their id and change properties."""
    logged = {d["id"]: d for d in DOCS} | {d["id"]: tombstone_data(d) for d in DELETED}
    expected = {i for i, d in logged.items() if matches(d)}

    page = await items.changes(where=filter_, limit=1000)

    assert not page.has_more
    assert [c.model_id for c in page.changes] == [i for i in LOG_ORDER if i in expected]
    assert all(c.data == DOCS_BY_ID.get(c.model_id) for c in page.changes)
    # Same filter, small pages: the same changes in the same order.
    paged, since = [], None
    while True:
        small = await items.changes(since=since, where=filter_, limit=2)
        paged += [c.model_id for c in small.changes]
        since = small.checkpoint
        if not small.has_more:
            break
    assert paged == [c.model_id for c in page.changes]


async def test_tombstones_match_filters_on_missing_fields(items):
    """A deleted document's content is gone, so "title is null" matches its tombstone."""
    page = await items.changes(where={"title": None})

    assert {c.model_id for c in page.changes} == {"e1", "x1", "x2"}


async def test_store_find_and_changes_take_the_same_parsed_filter(store, items):
    parsed = where("Item", {"tags": {"inq": ["blue"]}, "count": {"lt": 3}})

    found = await store.find("Item", parsed, 100)
    changed = await store.changes("Item", None, parsed, 100)

    assert ids_of(found) == ["a1", "a2", "f1"]
    assert ids_of(changed.docs) == ["a1", "f1", "a2"]  # a2 was updated last
