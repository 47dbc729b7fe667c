"""Parsing ``where`` filters: the tree each store compiles, and the errors for bad filters."""

from __future__ import annotations

import math

import pytest

from graphql_repl import Field, FieldType, Model
from graphql_repl.errors import BadFilter, BadInput
from graphql_repl.filters import MAX_DEPTH, And, Condition, Or, conjoin, parse_filter

ITEM = Model(
    "Item",
    fields=(
        Field("title", FieldType.STRING),
        Field("tags", FieldType.STRING_LIST),
        Field("count", FieldType.INT),
        Field("score", FieldType.FLOAT),
        Field("done", FieldType.BOOLEAN),
        Field("extra", FieldType.JSON),
    ),
)


def parse(where):
    return parse_filter(ITEM, where)


@pytest.mark.parametrize("where", [None, {}])
def test_no_filter_parses_to_none(where):
    assert parse(where) is None


def test_a_plain_value_means_equality():
    assert parse({"title": "x"}) == Condition("title", "eq", "x", False)


def test_a_list_field_condition_is_marked_as_a_list():
    assert parse({"tags": "x"}) == Condition("tags", "eq", "x", True)
    assert parse({"tags": {"inq": ["a", "b"]}}) == Condition("tags", "inq", ("a", "b"), True)


def test_several_keys_or_operators_mean_and():
    assert parse({"title": "x", "count": {"gt": 1, "lte": 5}}) == And(
        (
            Condition("title", "eq", "x", False),
            Condition("count", "gt", 1, False),
            Condition("count", "lte", 5, False),
        )
    )


def test_and_or_nest():
    parsed = parse({"or": [{"title": "x"}, {"and": [{"count": 1}, {"done": True}]}]})

    assert parsed == Or(
        (
            Condition("title", "eq", "x", False),
            And((Condition("count", "eq", 1, False), Condition("done", "eq", True, False))),
        )
    )


def test_values_are_coerced_to_the_field_type():
    assert parse({"count": 3.0}) == Condition("count", "eq", 3, False)
    assert type(parse({"count": 3.0}).value) is int
    assert parse({"score": {"gte": 2}}) == Condition("score", "gte", 2.0, False)
    assert type(parse({"score": {"gte": 2}}).value) is float
    assert parse({"score": {"inq": [1, 2.5]}}).value == (1.0, 2.5)


def test_null_is_accepted_for_equality():
    assert parse({"title": None}) == Condition("title", "eq", None, False)
    assert parse({"count": {"neq": None}}) == Condition("count", "neq", None, False)


def test_like_accepts_the_id_field():
    assert parse({"id": {"like": "a%"}}) == Condition("id", "like", "a%", False)


def test_conjoin_ignores_missing_filters():
    a, b = parse({"title": "x"}), parse({"count": 1})

    assert conjoin() is None
    assert conjoin(None, a, None) == a
    assert conjoin(a, b) == And((a, b))


@pytest.mark.parametrize(
    ("where", "message"),
    [
        pytest.param({"nope": 1}, "unknown field 'nope'", id="unknown-field"),
        pytest.param(
            {"or": [{"title": "x"}, {"nope": 1}]}, "unknown field 'nope'", id="unknown-field-nested"
        ),
        pytest.param({"Title": "x"}, "unknown field 'Title'", id="field-names-are-case-sensitive"),
        pytest.param(
            {"title": {"regexp": "x"}}, "unknown operator 'regexp'", id="unknown-operator"
        ),
        pytest.param(
            {"title": {"EQ": "x"}}, "unknown operator 'EQ'", id="operators-are-case-sensitive"
        ),
        pytest.param({"title": {"between": [1, 2]}}, "unknown operator 'between'", id="between"),
        pytest.param({"count": "3"}, "count", id="string-for-int"),
        pytest.param({"count": 3.5}, "count", id="fraction-for-int"),
        pytest.param({"count": True}, "count", id="bool-for-int"),
        pytest.param({"score": "1.5"}, "score", id="string-for-float"),
        pytest.param({"score": {"gt": False}}, "score", id="bool-for-float"),
        pytest.param({"done": 1}, "done", id="int-for-bool"),
        pytest.param({"done": "true"}, "done", id="string-for-bool"),
        pytest.param({"title": 5}, "title", id="int-for-string"),
        pytest.param({"id": 5}, "id", id="int-for-id"),
        pytest.param({"tags": 5}, "tags", id="int-for-list-member"),
        pytest.param({"tags": ["a"]}, "tags", id="list-for-list-member"),
        pytest.param({"count": 2**64}, "count", id="int-beyond-64-bits"),
        pytest.param({"count": {"inq": [1, -(2**64)]}}, "count", id="inq-int-beyond-64-bits"),
        pytest.param({"score": {"gt": 10**400}}, "score", id="int-too-large-for-float"),
        pytest.param({"score": math.nan}, "score", id="nan-for-float"),
        pytest.param({"score": {"lt": math.inf}}, "score", id="infinity-for-float"),
        pytest.param({"title": {"inq": "x"}}, "expected a list", id="inq-not-a-list"),
        pytest.param({"title": {"nin": {"a": 1}}}, "expected a list", id="nin-not-a-list"),
        pytest.param({"count": {"inq": [1, "2"]}}, "count", id="inq-wrong-member-type"),
        pytest.param({"title": {"inq": ["a", None]}}, "title", id="inq-null-member"),
        pytest.param({"title": {"inq": [["a"]]}}, "scalar", id="inq-list-member"),
        pytest.param({"title": {"eq": {"x": 1}}}, "scalar", id="object-under-eq"),
        pytest.param({"title": {}}, "expected an operator", id="empty-operators"),
        pytest.param({"count": {"like": "1%"}}, "like", id="like-on-int"),
        pytest.param({"tags": {"like": "a%"}}, "like", id="like-on-list"),
        pytest.param({"done": {"like": "t%"}}, "like", id="like-on-bool"),
        pytest.param({"extra": {"like": "a%"}}, "like", id="like-on-json"),
        pytest.param({"title": {"like": 5}}, "like", id="like-non-string-pattern"),
        pytest.param({"count": {"gt": None}}, "null", id="null-with-gt"),
        pytest.param({"title": {"like": None}}, "like", id="null-with-like"),
        pytest.param({"and": []}, "and", id="empty-and"),
        pytest.param({"or": []}, "or", id="empty-or"),
        pytest.param({"and": {"title": "x"}}, "and", id="and-not-a-list"),
        pytest.param({"or": [{}]}, "or[0]", id="empty-object-in-or"),
        pytest.param({"or": ["title"]}, "or[0]", id="non-object-in-or"),
        pytest.param(["title"], "object", id="list-as-filter"),
        pytest.param("title = 'x'", "object", id="string-as-filter"),
    ],
)
def test_bad_filters_raise_bad_filter_naming_the_problem(where, message):
    with pytest.raises(BadFilter) as error:
        parse(where)

    assert message in error.value.message
    assert isinstance(error.value, BadInput)
    assert error.value.code == "BAD_USER_INPUT"


def test_a_bad_filter_message_names_the_path_to_the_problem():
    with pytest.raises(BadFilter) as error:
        parse({"and": [{"title": "x"}, {"or": [{"count": 1}, {"count": {"gt": "many"}}]}]})

    assert "where.and[1].or[1].count.gt" in error.value.message


def test_a_filter_nested_too_deeply_is_refused():
    where: dict = {"title": "x"}
    for _ in range(MAX_DEPTH + 1):
        where = {"and": [where]}

    with pytest.raises(BadFilter, match="nested too deeply"):
        parse(where)


def test_a_filter_nested_to_the_limit_is_accepted():
    where: dict = {"title": "x"}
    for _ in range(MAX_DEPTH):
        where = {"or": [where]}

    assert parse(where) is not None
