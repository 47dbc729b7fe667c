"""The wire format of the client: the GraphQL documents it sends, and the conversions
between the replication layer's dataclasses and their GraphQL shapes."""

from __future__ import annotations

from typing import Any

from gql import GraphQLRequest

from ..replication.types import Change, ChangeType, Conflict, Update, UpdateResult, UpdateStatus

_CHANGE = "model modelId type rev prev checkpoint data clock revs"
_CONFLICT = "model modelId sourceRev targetRev sourceData targetData fields"
CHECKPOINT = GraphQLRequest("query Checkpoint($model: String!) { checkpoint(model: $model) }")
CHANGES = GraphQLRequest(f"""
query Changes($model: String!, $since: Checkpoint, $where: JSON, $limit: Int, $until: Checkpoint) {{
  changes(model: $model, since: $since, where: $where, limit: $limit, until: $until) {{
    changes {{ {_CHANGE} }} checkpoint hasMore
  }}
}}""")
CONFLICTS = GraphQLRequest(
    f"query Conflicts($model: String!) {{ conflicts(model: $model) {{ {_CONFLICT} }} }}"
)
DIFF = GraphQLRequest(f"""
mutation Diff($model: String!, $since: Checkpoint, $changes: [ChangeInput!]!) {{
  diff(model: $model, since: $since, changes: $changes) {{
    deltas {{ {_CHANGE} }} conflicts {{ {_CONFLICT} }}
  }}
}}""")


def _bulk_update(results: str) -> GraphQLRequest:
    return GraphQLRequest(f"""
mutation BulkUpdate($model: String!, $updates: [UpdateInput!]!) {{
  bulkUpdate(model: $model, updates: $updates) {{
    results {{ {results} }} conflicts {{ {_CONFLICT} }} checkpoint
  }}
}}""")


BULK_UPDATE = {
    True: _bulk_update("modelId status rev data error"),
    False: _bulk_update("modelId status error"),
}
RESOLVE = GraphQLRequest("""
mutation Resolve($model: String!, $modelId: ID!, $using: Resolution!, $data: JSON) {
  resolveConflict(model: $model, modelId: $modelId, using: $using, data: $data)
}""")
FEED = GraphQLRequest(f"""
subscription Feed($model: String!, $since: Checkpoint, $where: JSON) {{
  changeFeed(model: $model, since: $since, where: $where) {{ {_CHANGE} }}
}}""")

# Request bodies are encoded by orjson: several times faster than the json module on the
# documents a bulkUpdate carries. gql's HTTPX transport would hand its payload to httpx as
# ``json=`` (its ``json_serialize`` serves only logs and file uploads); its ``extra_args``
# (the arguments it passes on to httpx's ``post``) replace that with orjson's bytes.
# tests/remote/test_client.py::test_request_bodies_are_encoded_by_orjson checks the bytes.


def change_of(c: dict[str, Any]) -> Change:
    """A ``Change`` from its GraphQL shape."""
    return Change(
        c["model"],
        c["modelId"],
        ChangeType(c["type"]),
        c.get("rev"),
        c.get("prev"),
        c.get("checkpoint"),
        c.get("data"),
        c.get("clock") or {},
        c.get("revs") or [],
    )


def update_input(u: Update) -> dict[str, Any]:
    """The ``UpdateInput`` that sends ``u``."""
    return without_nulls(
        {
            "modelId": u.model_id,
            "type": u.type.value,
            "data": u.data,
            # ``rev`` is left out: the receiver works it out from ``data`` (CONTRACT §2).
            "prev": u.prev,
            "clock": u.clock or None,
            "revs": list(u.revs) if u.revs else None,
        }
    )


def update_result_of(r: dict[str, Any]) -> UpdateResult:
    """An ``UpdateResult`` from its GraphQL shape."""
    return UpdateResult(
        r["modelId"], UpdateStatus(r["status"]), r.get("rev"), r.get("data"), r.get("error")
    )


def conflict_of(c: dict[str, Any]) -> Conflict:
    """A ``Conflict`` from its GraphQL shape."""
    return Conflict(
        c["model"],
        c["modelId"],
        c.get("sourceRev"),
        c.get("targetRev"),
        c.get("sourceData"),
        c.get("targetData"),
        list(c.get("fields") or []),
    )


def without_nulls(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
