"""Server-side reads and writes for the web client tests: plain GraphQL over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from servers import Server  # tests/servers.py (pytest puts tests/ on sys.path)

HTTP_TIMEOUT = 30.0

NOTE_FIELDS = "id title body tags views tenantId _deleted _rev"


def uid(prefix: str = "") -> str:
    """A fresh id, so tests on the shared server never see each other's documents."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class GraphQLErrors(AssertionError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"GraphQL errors: {errors}")
        self.errors = errors

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


class Api:
    """One token's GraphQL over HTTP on one server."""

    def __init__(self, server: Server, token: str) -> None:
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, query: str, **variables: Any) -> Any:
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=self.headers,
            timeout=HTTP_TIMEOUT,
        )
        body = response.json()
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        assert response.status_code == 200, response.text
        return body["data"]

    def create(self, model: str, fields: str, **data: Any) -> dict[str, Any]:
        query = f"mutation($d: {model}Input!) {{ create{model}(data: $d) {{ {fields} }} }}"
        result: dict[str, Any] = self(query, d=data)[f"create{model}"]
        return result

    def update(self, model: str, fields: str, model_id: str, **data: Any) -> dict[str, Any]:
        query = (
            f"mutation($id: ID!, $d: {model}Patch!) "
            f"{{ update{model}(id: $id, data: $d) {{ {fields} }} }}"
        )
        result: dict[str, Any] = self(query, id=model_id, d=data)[f"update{model}"]
        return result

    def delete(self, model: str, model_id: str) -> bool:
        query = f"mutation($id: ID!) {{ delete{model}(id: $id) }}"
        deleted: bool = self(query, id=model_id)[f"delete{model}"]
        return deleted

    def get(self, model: str, fields: str, model_id: str) -> dict[str, Any] | None:
        name = model[0].lower() + model[1:]
        query = f"query($id: ID!) {{ {name}(id: $id) {{ {fields} }} }}"
        found: dict[str, Any] | None = self(query, id=model_id)[name]
        return found
