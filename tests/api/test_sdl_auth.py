# ruff: noqa: E501 - CONTRACT_SDL below is the contract's text, verbatim.
"""The schema as published (``graphql-repl export-schema`` and ``schema.graphql``), parsed
with graphql-core: every root field declares ``@auth(requires: ...)``, with the permission
the contract gives it, and the contract's fixed schema (CONTRACT §2) is all there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    EnumValueNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    build_schema,
    parse,
    print_ast,
)
from servers import graphql_repl_command  # tests/servers.py

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ("Query", "Mutation", "Subscription")
PERMISSIONS = {"READ", "REPLICATE", "WRITE"}

# CONTRACT §2, verbatim.
CONTRACT_SDL = """
scalar JSON
scalar Checkpoint

enum Permission { READ REPLICATE WRITE }
directive @auth(requires: Permission!) on FIELD_DEFINITION

enum ChangeType { CREATE UPDATE DELETE }

type Change {
  model: String!
  modelId: ID!
  type: ChangeType!
  rev: String
  prev: String
  checkpoint: Checkpoint!
  data: JSON
  clock: JSON
}

type ChangePage {
  changes: [Change!]!
  checkpoint: Checkpoint!
  hasMore: Boolean!
}

type Conflict {
  model: String!
  modelId: ID!
  sourceRev: String
  targetRev: String
  sourceData: JSON
  targetData: JSON
  fields: [String!]!
}

type Diff { deltas: [Change!]!  conflicts: [Conflict!]! }

input ChangeInput { modelId: ID!  type: ChangeType!  rev: String  prev: String }

input UpdateInput {
  modelId: ID!
  type: ChangeType!
  data: JSON
  rev: String
  prev: String
  clock: JSON
}

enum UpdateStatus { APPLIED UNCHANGED MERGED CONFLICT }
type UpdateResult { modelId: ID!  status: UpdateStatus!  rev: String  data: JSON }
type BulkUpdateResult { results: [UpdateResult!]!  conflicts: [Conflict!]!  checkpoint: Checkpoint! }

input CheckpointPairInput { source: Checkpoint  target: Checkpoint }
type CheckpointPair { source: Checkpoint!  target: Checkpoint! }
type ReplicationResult { conflicts: [Conflict!]!  checkpoints: CheckpointPair!  updates: [UpdateResult!]! }

enum Resolution { SOURCE TARGET MANUAL }

type Query {
  checkpoint(model: String!): Checkpoint!                                                    @auth(requires: REPLICATE)
  changes(model: String!, since: Checkpoint, where: JSON, limit: Int = 500): ChangePage!    @auth(requires: REPLICATE)
  conflicts(model: String!): [Conflict!]!                                                    @auth(requires: REPLICATE)
}

type Mutation {
  diff(model: String!, since: Checkpoint, changes: [ChangeInput!]!): Diff!                  @auth(requires: REPLICATE)
  bulkUpdate(model: String!, updates: [UpdateInput!]!): BulkUpdateResult!                   @auth(requires: WRITE)
  replicate(source: String!, target: String!, since: CheckpointPairInput, where: JSON): ReplicationResult!  @auth(requires: REPLICATE)
  resolveConflict(model: String!, modelId: ID!, using: Resolution!, data: JSON): JSON       @auth(requires: WRITE)
}

type Subscription {
  changeFeed(model: String!, since: Checkpoint, where: JSON): Change!                       @auth(requires: REPLICATE)
}
"""

TYPED_READS = ("notes", "note", "users", "user", "remoteUsers", "remoteUser")
TYPED_READS += ("financialRecords", "financialRecord")
TYPED_WRITES = tuple(
    f"{verb}{model}"
    for model in ("Note", "User", "RemoteUser", "FinancialRecord")
    for verb in ("create", "update", "delete")
)


def _exported() -> str:
    done = subprocess.run(
        [graphql_repl_command(), "export-schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SOURCES = {
    "export-schema": _exported,
    "schema.graphql": lambda: (ROOT / "schema.graphql").read_text(),
}


@pytest.fixture(scope="module", params=list(SOURCES))
def sdl(request) -> str:
    return SOURCES[request.param]()


def default_of(argument: GraphQLArgument) -> str | None:
    """An argument's default value as written in the SDL (None when it has none)."""
    node = argument.ast_node
    return None if node is None or node.default_value is None else print_ast(node.default_value)


def auth_of(document: DocumentNode) -> dict[str, dict[str, list[str]]]:
    """Root type -> field -> the ``requires`` of each @auth on it."""
    out: dict[str, dict[str, list[str]]] = {}
    for definition in document.definitions:
        if not isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            continue
        if definition.name.value not in ROOTS:
            continue
        fields = out.setdefault(definition.name.value, {})
        for field in definition.fields or ():
            found = fields.setdefault(field.name.value, [])
            for directive in field.directives or ():
                if directive.name.value != "auth":
                    continue
                for argument in directive.arguments:
                    assert argument.name.value == "requires"
                    assert isinstance(argument.value, EnumValueNode)
                    found.append(argument.value.value)
    return out


def test_every_root_field_declares_auth(sdl):
    declared = auth_of(parse(sdl))
    assert set(declared) == set(ROOTS)
    missing = [
        f"{root}.{name}"
        for root, fields in declared.items()
        for name, requires in fields.items()
        if len(requires) != 1 or requires[0] not in PERMISSIONS
    ]
    assert missing == [], f"root fields without exactly one @auth(requires: ...): {missing}"


def test_auth_requirements_match_the_contract(sdl):
    declared = auth_of(parse(sdl))
    contract = auth_of(parse(CONTRACT_SDL))
    for root, fields in contract.items():
        for name, requires in fields.items():
            assert declared[root].get(name) == requires, f"{root}.{name}"
    for name in TYPED_READS:
        assert declared["Query"].get(name) == ["READ"], f"Query.{name}"
    for name in TYPED_WRITES:
        assert declared["Mutation"].get(name) == ["WRITE"], f"Mutation.{name}"
    # The SDL declares the directive itself as the contract does.
    schema = build_schema(sdl)
    directive = schema.get_directive("auth")
    assert directive is not None
    assert str(directive.args["requires"].type) == "Permission!"
    assert [loc.name for loc in directive.locations] == ["FIELD_DEFINITION"]


def test_the_contract_schema_is_all_there(sdl):
    """Names, arguments and types of CONTRACT §2 are fixed: each is in the published schema
    with the same type (more fields, optional arguments and enum values may be added)."""
    ours = build_schema(sdl)
    contract = build_schema(CONTRACT_SDL)
    for name, expected in contract.type_map.items():
        if name.startswith("__"):
            continue
        actual = ours.type_map.get(name)
        assert actual is not None, f"type {name} is missing"
        assert type(actual) is type(expected), name
        if isinstance(expected, GraphQLEnumType):
            assert isinstance(actual, GraphQLEnumType)
            assert set(expected.values) <= set(actual.values), name
        elif isinstance(expected, GraphQLInputObjectType):
            assert isinstance(actual, GraphQLInputObjectType)
            for field_name, field in expected.fields.items():
                assert field_name in actual.fields, f"{name}.{field_name}"
                assert str(actual.fields[field_name].type) == str(field.type), (
                    f"{name}.{field_name}"
                )
            for field_name, field in actual.fields.items():
                if field_name not in expected.fields:
                    assert not str(field.type).endswith("!"), f"new required {name}.{field_name}"
        elif isinstance(expected, GraphQLObjectType):
            assert isinstance(actual, GraphQLObjectType)
            for field_name, field in expected.fields.items():
                got = actual.fields.get(field_name)
                assert got is not None, f"{name}.{field_name} is missing"
                assert str(got.type) == str(field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    got_arg = got.args.get(arg_name)
                    assert got_arg is not None, f"{name}.{field_name}({arg_name})"
                    assert str(got_arg.type) == str(arg.type), f"{name}.{field_name}({arg_name})"
                    if default_of(arg) is not None:
                        assert default_of(got_arg) == default_of(arg), arg_name
                for arg_name, arg in got.args.items():
                    if arg_name not in field.args:
                        assert not str(arg.type).endswith("!") or default_of(arg) is not None, (
                            f"new required argument {name}.{field_name}({arg_name})"
                        )
