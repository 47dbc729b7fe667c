"""Model declarations and ``Model.validate``: the normal form every write is stored in."""

from __future__ import annotations

import math

import pytest

from graphql_repl import Field, FieldType, Model, Registry, Strategy
from graphql_repl.errors import BadInput, InvalidDocument, UnknownModel

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


def test_validate_keeps_a_valid_document_as_it_is():
    doc = {"id": "i1", "title": "t", "tags": ["a", "b"], "count": 3, "score": 1.5, "done": False}

    assert ITEM.validate(doc) == doc


def test_validate_accepts_any_json_in_a_json_field():
    for value in ({"a": [1, {"b": None}]}, [1, "x"], "s", 1, 2.5, True):
        assert ITEM.validate({"id": "i1", "extra": value}) == {"id": "i1", "extra": value}


def test_validate_refuses_an_unknown_field():
    with pytest.raises(InvalidDocument) as error:
        ITEM.validate({"id": "i1", "colour": "red"})

    assert "unknown field 'colour'" in error.value.message
    assert isinstance(error.value, BadInput)
    assert error.value.code == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", 5),
        ("title", ["a"]),
        ("title", {"a": 1}),
        ("title", True),
        ("id", 5),
        ("count", "3"),
        ("count", 3.5),
        ("count", True),
        ("count", False),
        ("count", [3]),
        ("score", "1.5"),
        ("score", True),
        ("score", [1.5]),
        ("done", 1),
        ("done", 0),
        ("done", "true"),
        ("tags", "a"),
        ("tags", ["a", 1]),
        ("tags", ["a", None]),
        ("tags", [["a"]]),
        ("tags", {"a": "b"}),
    ],
)
def test_validate_refuses_a_value_of_the_wrong_type(field, value):
    with pytest.raises(InvalidDocument) as error:
        ITEM.validate({"id": "i1", field: value} if field != "id" else {"id": value})

    assert f"Item.{field}" in error.value.message


def test_int_accepts_a_whole_float_as_an_int():
    validated = ITEM.validate({"id": "i1", "count": 3.0})

    assert validated == {"id": "i1", "count": 3}
    assert type(validated["count"]) is int
    assert type(ITEM.validate({"id": "i1", "count": -0.0})["count"]) is int


def test_float_coerces_ints_to_floats():
    validated = ITEM.validate({"id": "i1", "score": 2})

    assert validated == {"id": "i1", "score": 2.0}
    assert type(validated["score"]) is float


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_refuses_values_json_cannot_hold(value):
    """JSON has no NaN or infinity (GraphQL's Float excludes them too); stored as JSON they
    would silently become null."""
    with pytest.raises(InvalidDocument):
        ITEM.validate({"id": "i1", "score": value})


def test_float_refuses_an_int_too_large_for_a_float():
    with pytest.raises(InvalidDocument):
        ITEM.validate({"id": "i1", "score": 10**400})


@pytest.mark.parametrize("value", [2**64, -(2**64), 10**30, 1e30])
def test_int_refuses_values_beyond_64_bits(value):
    """Such a value cannot be stored or hashed (the JSON encoder refuses it), so it must be
    refused as bad input, not fail later as an internal error."""
    with pytest.raises(InvalidDocument):
        ITEM.validate({"id": "i1", "count": value})


@pytest.mark.parametrize(
    "value", [math.nan, [1, math.inf], {"a": {"b": -math.inf}}, 2**64, [{"n": -(2**70)}]]
)
def test_json_field_refuses_values_json_cannot_hold(value):
    with pytest.raises(InvalidDocument):
        ITEM.validate({"id": "i1", "extra": value})


def test_none_values_are_dropped():
    validated = ITEM.validate(
        {"id": "i1", "title": None, "count": None, "tags": None, "extra": None}
    )

    assert validated == {"id": "i1"}


def test_equal_content_has_one_normal_form():
    a = ITEM.validate({"id": "i1", "score": 1, "count": 2.0, "title": None})
    b = ITEM.validate({"count": 2, "score": 1.0, "id": "i1"})

    assert a == b
    assert [(k, type(v)) for k, v in sorted(a.items())] == [
        (k, type(v)) for k, v in sorted(b.items())
    ]


def test_validate_fills_in_the_expected_id():
    assert ITEM.validate({"title": "t"}, "i1") == {"id": "i1", "title": "t"}
    assert ITEM.validate({"id": None, "title": "t"}, "i1") == {"id": "i1", "title": "t"}
    assert ITEM.validate({"id": "i1"}, "i1") == {"id": "i1"}


def test_validate_refuses_an_id_that_is_not_the_expected_one():
    with pytest.raises(InvalidDocument) as error:
        ITEM.validate({"id": "other", "title": "t"}, "i1")

    assert "'other'" in error.value.message
    assert "'i1'" in error.value.message


@pytest.mark.parametrize("doc", [{"title": "t"}, {"id": ""}, {"id": None}])
def test_validate_refuses_a_document_without_an_id(doc):
    with pytest.raises(InvalidDocument, match="id"):
        ITEM.validate(doc)


@pytest.mark.parametrize("doc", [None, [], "i1", 5, [("id", "i1")]])
def test_validate_refuses_a_document_that_is_not_an_object(doc):
    with pytest.raises(InvalidDocument, match="JSON object"):
        ITEM.validate(doc)


def test_validate_does_not_change_its_input():
    doc = {"id": "i1", "score": 1, "title": None}

    ITEM.validate(doc)

    assert doc == {"id": "i1", "score": 1, "title": None}


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: Model("bad name", fields=()), "alphanumeric"),
        (lambda: Model("1Model", fields=()), "alphanumeric"),
        (lambda: Model("M", fields=(Field("a-b"),)), "invalid field name"),
        (lambda: Model("M", fields=(Field("a"), Field("a"))), "declared twice"),
        (lambda: Model("M", fields=(Field("a", FieldType.INT, Strategy.UNION),)), "UNION"),
        (lambda: Model("M", fields=(Field("a"),), change_properties=("b",)), "change property"),
    ],
)
def test_bad_model_declarations_are_refused(declare, message):
    with pytest.raises(ValueError, match=message):
        declare()


def test_a_model_always_has_an_id_field_and_a_strategy_per_field():
    model = Model(
        "M",
        fields=(Field("a"), Field("b", strategy=Strategy.MAX)),
        default_strategy=Strategy.LATEST,
    )

    assert model.by_name["id"].type is FieldType.ID
    assert model.strategy("a") is Strategy.LATEST
    assert model.strategy("b") is Strategy.MAX


def test_registry_finds_models_by_name_and_refuses_unknown_and_duplicate_names():
    registry = Registry([ITEM])

    assert registry.get("Item") is ITEM
    assert list(registry) == [ITEM]
    assert len(registry) == 1
    with pytest.raises(UnknownModel) as error:
        registry.get("Nope")
    assert error.value.code == "BAD_USER_INPUT"
    assert "'Nope'" in error.value.message
    with pytest.raises(ValueError, match="twice"):
        Registry([ITEM, ITEM])
