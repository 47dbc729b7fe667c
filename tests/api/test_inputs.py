"""The bulk inputs read straight from graphql-core's coerced values (api/inputs.py) give
what Strawberry's own conversion gives; bulkUpdate and push<Model> answer bad input as
before: an invalid variable fails the request with BAD_USER_INPUT, an invalid update or push
row is refused alone."""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from graphql import GraphQLInputType, coerce_input_value
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.types.arguments import convert_argument
from strawberry.types.base import get_object_definition

from graphql_repl.api import build_schema
from graphql_repl.api.types import UpdateInput
from graphql_repl.demo import demo_registry
from graphql_repl.replication import PushRow, Update

from .helpers import codes, uid
from .in_process import LocalServer

SCHEMA = build_schema(demo_registry())
PUSH_NOTE = """mutation($rows: [NoteInputPushRow!]) {
  pushNote(notePushRow: $rows) { id title views _deleted }
}"""

text = st.text(max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
update_values = st.fixed_dictionaries(
    {"modelId": text, "type": st.sampled_from(["CREATE", "UPDATE", "DELETE"])},
    optional={
        "data": st.none() | st.dictionaries(text, json_values, max_size=4),
        "rev": st.none() | text,
        "prev": st.none() | text,
        "clock": st.none() | st.dictionaries(text, text, max_size=3),
        "revs": st.none() | st.lists(text, max_size=3),
    },
)
note_documents = st.fixed_dictionaries(
    {"id": text},
    optional={
        "title": st.none() | text,
        "body": st.none() | text,
        "tags": st.none() | st.lists(text, max_size=3),
        "views": st.none() | st.integers(-(2**31), 2**31 - 1),
        "tenantId": st.none() | text,
        "_deleted": st.none() | st.booleans(),
    },
)
push_rows = st.fixed_dictionaries(
    {"newDocumentState": note_documents},
    optional={"assumedMasterState": st.none() | note_documents},
)


def _coerced(value: Any, type_name: str) -> Any:
    """``value`` as graphql-core hands it to Strawberry once it has checked it."""
    kind = SCHEMA._schema.get_type(type_name)
    assert kind is not None
    input_type: GraphQLInputType = kind  # type: ignore[assignment]
    return coerce_input_value(value, input_type)


def _convert(value: Any, cls: type) -> Any:
    converter = SCHEMA.schema_converter
    return convert_argument(value, cls, converter.scalar_registry, SCHEMA.config)


def _by_strawberry(value: Any, cls: type) -> Any:
    """``value`` converted by Strawberry field by field, as without the input's hook."""
    definition = get_object_definition(cls, strict=True)
    reference = type(f"Reference{cls.__name__}", (cls,), {})
    reference.__strawberry_definition__ = dataclasses.replace(  # type: ignore[attr-defined]
        definition, from_input=None, origin=reference
    )
    return _convert(value, reference)


def _document(value: Any) -> dict[str, Any]:
    """A push document instance as the resolver used to read it (fields left out absent)."""
    fields = [f.python_name for f in get_object_definition(type(value), strict=True).fields]
    return {name: item for name in fields if (item := getattr(value, name)) is not strawberry.UNSET}


@settings(max_examples=200, deadline=None)
@given(update_values)
def test_update_input_reads_as_strawberry_converts_it(value: dict[str, Any]) -> None:
    coerced = _coerced(value, "UpdateInput")
    fast = _convert(coerced, UpdateInput)
    slow = _by_strawberry(coerced, UpdateInput)
    assert isinstance(fast, Update)
    assert fast == Update(
        str(slow.model_id),
        type(fast.type)[slow.type.name],
        slow.data,
        slow.rev,
        slow.prev,
        slow.clock,
        slow.revs,
    )


@settings(max_examples=200, deadline=None)
@given(push_rows)
def test_push_row_reads_as_strawberry_converts_it(value: dict[str, Any]) -> None:
    row_type = SCHEMA.get_type_by_name("NoteInputPushRow")
    assert row_type is not None
    cls = row_type.origin  # type: ignore[union-attr]
    coerced = _coerced(value, "NoteInputPushRow")
    fast = _convert(coerced, cls)
    slow = _by_strawberry(coerced, cls)
    assumed = slow.assumed_master_state
    assert isinstance(fast, PushRow)
    assert fast == PushRow(
        _document(slow.new_document_state), None if assumed is None else _document(assumed)
    )


async def test_bulk_update_with_a_wrongly_typed_update_fails_with_bad_user_input(
    local: LocalServer,
):
    api = await local.api("admin")
    mutation = (
        "mutation($u: [UpdateInput!]!) "
        '{ bulkUpdate(model: "Note", updates: $u) { results { modelId status } } }'
    )
    for updates in (
        [{"modelId": uid(), "type": "CREATE", "data": {"id": "x"}, "unknown": 1}],
        [{"modelId": uid(), "type": "CREATE!", "data": {}}],
        [{"type": "CREATE", "data": {}}],
        [{"modelId": uid(), "type": "UPDATE", "revs": [1, 2]}],
        [None],
    ):
        errors = await api.errors(mutation, {"u": updates})
        assert set(codes(errors)) == {"BAD_USER_INPUT"}, updates


async def test_bulk_update_refuses_an_invalid_document_alone(local: LocalServer):
    api = await local.api("admin")
    good, bad, empty = uid("good-"), uid("bad-"), ""
    result = await api.bulk(
        "Note",
        [
            {"modelId": good, "type": "CREATE", "data": {"id": good, "views": 3}},
            {"modelId": bad, "type": "CREATE", "data": {"id": bad, "views": "many"}},
            {"modelId": bad, "type": "UPDATE"},
            {"modelId": empty, "type": "DELETE"},
        ],
    )
    statuses = [(r["modelId"], r["status"]) for r in result["results"]]
    assert statuses == [
        (good, "APPLIED"),
        (bad, "REJECTED"),
        (bad, "REJECTED"),
        (empty, "REJECTED"),
    ]
    stored = await api.data("query($id: ID!) { note(id: $id) { views } }", {"id": good})
    assert stored["note"] == {"views": 3}


async def test_push_writes_merges_and_refuses_rows_alone(local: LocalServer):
    api = await local.api("admin")
    a, b, c, d = (uid(f"push-{k}-") for k in "abcd")
    first = await api.data(
        PUSH_NOTE,
        {
            "rows": [
                {"newDocumentState": {"id": a, "title": "one", "views": 1}},
                {"newDocumentState": {"id": b, "title": "two"}},
                {"newDocumentState": {"id": c, "views": "many"}},
                {"newDocumentState": {"id": d, "nope": 1}},
            ]
        },
    )
    # Written as sent but the refused rows, answered with their master state (tombstones:
    # the server has none).
    assert first["pushNote"] == [
        {"id": c, "title": None, "views": None, "_deleted": True},
        {"id": d, "title": None, "views": None, "_deleted": True},
    ]
    assumed = {"id": a, "title": "one", "views": 1}
    second = await api.data(
        PUSH_NOTE,
        {
            "rows": [
                {"assumedMasterState": assumed, "newDocumentState": {**assumed, "views": 7}},
                {
                    "assumedMasterState": {"id": b, "title": "zero"},
                    "newDocumentState": {"id": b, "title": "three", "_deleted": False},
                },
                {"newDocumentState": {"id": a, "_deleted": True}, "assumedMasterState": None},
            ]
        },
    )
    # The first row is written as sent. The other two were not based on the master: merged
    # with it, and answered with the master state after the push.
    assert second["pushNote"] == [
        {"id": b, "title": "two", "views": None, "_deleted": False},
        {"id": a, "title": "one", "views": 7, "_deleted": False},
    ]
