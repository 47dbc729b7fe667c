"""Token lifecycle (issue: security): ``token create --expires``, ``token list``,
``token revoke``; a revoked or expired token stops at once on HTTP and ends open feeds
within seconds; optional HS256 JWTs. Real CLI processes, real servers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
import mongo_server
import pymongo
import pytest
from gql.transport.exceptions import TransportQueryError, TransportServerError
from servers import Server, ServerFactory, graphql_repl_command

from .helpers import PROTOCOLS, Api, Feed, GraphQLErrors, uid

pytestmark = pytest.mark.usefixtures("check_server_alive")

# Revocation must reach an open feed within "a few seconds": the server checks every 2 s
# by default; allow for a busy machine.
REVOKE_DEADLINE = 15.0
JWT_SECRET = "s3cret-for-tests-" + "x" * 32


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [graphql_repl_command(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=mongo_server.subprocess_env(),
    )


def new_token(server: Server, role: str, *extra: str) -> str:
    done = cli("token", "create", "--role", role, "--store", server.store, *extra)
    assert done.returncode == 0, done.stderr
    (token,) = done.stdout.split()
    return token


def listed(server: Server) -> dict[str, dict[str, Any]]:
    done = cli("token", "list", "--json", "--store", server.store)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return {row["id"]: row for row in rows}


def token_id(token: str) -> str:
    return token.split("_")[1]


async def reads_ok(server: Server, token: str) -> bool:
    body = await Api(server, token).post("{ notes(limit: 1) { id } }")
    if not body.get("errors"):
        return True
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
    return False


async def test_list_shows_ids_roles_and_status_never_secrets(server: Server) -> None:
    tenant = uid("tenant-")
    token = new_token(server, "writer", "--tenant", tenant, "--expires", "30d")
    rows = listed(server)
    row = rows[token_id(token)]
    assert (row["role"], row["tenant"], row["status"]) == ("writer", tenant, "active")
    expires = time.mktime(time.strptime(row["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 30 * 86400)) < 120
    secret = token.split("_", 2)[2]
    table = cli("token", "list", "--store", server.store)
    assert table.returncode == 0
    assert token_id(token) in table.stdout
    for output in (table.stdout, json.dumps(rows)):
        assert secret not in output


def stored_token(store: str, token_id: str) -> list[str]:
    """Every value stored for a token, read from the store directly."""
    if store.startswith("sqlite:///"):
        with sqlite3.connect(urlsplit(store).path) as conn:
            rows = conn.execute("SELECT * FROM tokens WHERE token_id = ?", (token_id,))
            return [str(v) for row in rows for v in row]
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(store)
    try:
        row = client.get_default_database()["tokens"].find_one({"_id": token_id})
    finally:
        client.close()
    return [] if row is None else [str(v) for v in row.values()]


def test_store_keeps_only_a_hash(server: Server) -> None:
    token = new_token(server, "reader")
    secret = token.split("_", 2)[2]
    stored = stored_token(server.store, token_id(token))
    assert token_id(token) in stored
    assert not any(secret in value for value in stored)


async def test_revoke_stops_http_at_once(server: Server) -> None:
    token = new_token(server, "reader")
    assert await reads_ok(server, token)
    done = cli("token", "revoke", token_id(token), "--store", server.store)
    assert done.returncode == 0, done.stderr
    assert not await reads_ok(server, token)
    assert listed(server)[token_id(token)]["status"] == "revoked"


def test_revoke_unknown_id_is_a_clear_error(server: Server) -> None:
    done = cli("token", "revoke", "nosuchtoken", "--store", server.store)
    assert done.returncode == 1
    assert "No token with id 'nosuchtoken'" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_expiry_is_a_usage_error(server: Server) -> None:
    for value in ("soon", "-5m", "2001-01-01T00:00:00Z"):
        done = cli(
            "token", "create", "--role", "reader", "--expires", value, "--store", server.store
        )
        assert done.returncode != 0, value
        assert "Traceback" not in done.stderr, value
        assert done.stdout == "", value


async def test_expired_token_stops_working(server: Server) -> None:
    token = new_token(server, "reader", "--expires", "3s")
    assert await reads_ok(server, token)
    deadline = time.monotonic() + 30
    while await reads_ok(server, token):
        assert time.monotonic() < deadline, "the token never expired"
        await asyncio.sleep(0.5)
    assert listed(server)[token_id(token)]["status"] == "expired"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_revoking_ends_an_open_feed(server: Server, protocol: str) -> None:
    token = new_token(server, "replicator")
    api = Api(server, server.token("admin"))
    async with Feed(server, token, protocol=protocol) as feed:
        first = await api.create_note(title=uid())
        assert (await feed.until(first["id"]))[-1]["type"] == "CREATE"
        # In a thread: the event loop goes on serving the open feed meanwhile.
        revoked = await asyncio.to_thread(
            cli, "token", "revoke", token_id(token), "--store", server.store
        )
        assert revoked.returncode == 0
        revoked_at = time.monotonic()
        with pytest.raises((TransportQueryError, TransportServerError)) as ended:
            await asyncio.wait_for(feed.until_end(), REVOKE_DEADLINE)
        waited = time.monotonic() - revoked_at
        assert waited < REVOKE_DEADLINE
        error = ended.value
        if isinstance(error, TransportQueryError):
            assert error.errors
            assert error.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_expiry_ends_an_open_feed(server: Server, protocol: str) -> None:
    token = new_token(server, "replicator", "--expires", "4s")
    async with Feed(server, token, protocol=protocol) as feed:
        with pytest.raises((TransportQueryError, TransportServerError)):
            await asyncio.wait_for(feed.until_end(), REVOKE_DEADLINE + 4)


async def test_revoked_token_cannot_open_a_websocket(server: Server) -> None:
    token = new_token(server, "replicator")
    assert cli("token", "revoke", token_id(token), "--store", server.store).returncode == 0
    with pytest.raises(Exception, match=r"(?i)unknown|revoked|4403|4401|closed"):
        async with Feed(server, token) as feed:
            await asyncio.wait_for(feed.next(), 10)


# -- JWT --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwt_server(server_factory: ServerFactory) -> Server:
    return server_factory.start(env={"GRAPHQL_REPL_JWT_SECRET": JWT_SECRET})


def signed(claims: dict[str, Any], key: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    base = {"sub": "someone", "exp": int(time.time()) + 600}
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


async def test_jwt_role_and_tenant(jwt_server: Server) -> None:
    tenant = uid("jwt-")
    admin = Api(jwt_server, jwt_server.token("admin"))
    mine = await admin.create_note(title="mine", tenantId=tenant)
    await admin.create_note(title="theirs", tenantId=uid("other-"))
    writer = Api(jwt_server, signed({"role": "writer", "tenant": tenant}))
    notes = (await writer.data("{ notes(limit: 1000) { id tenantId } }"))["notes"]
    # The tenant names its documents without the tenant prefix the admin sees.
    assert mine["id"].startswith(f"{tenant}:")
    assert notes == [{"id": mine["id"].removeprefix(f"{tenant}:"), "tenantId": tenant}]
    created = await writer.create_note(title="by jwt")
    assert created["tenantId"] == tenant
    reader = Api(jwt_server, signed({"role": "reader"}))
    assert await reader.code('mutation { deleteNote(id: "x") }') == "FORBIDDEN"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: signed({"role": "admin"}, key="w" * 40), id="wrong-key"),
        pytest.param(lambda: signed({"role": "admin", "exp": int(time.time()) - 5}), id="expired"),
        pytest.param(lambda: signed({"exp": int(time.time()) + 60}), id="no-role"),
        pytest.param(lambda: signed({"role": "superuser"}), id="unknown-role"),
        pytest.param(lambda: signed({"role": "admin", "tenant": ""}), id="empty-tenant"),
        pytest.param(
            lambda: jwt.encode({"role": "admin", "exp": int(time.time()) + 60}, None, "none"),
            id="alg-none",
        ),
        pytest.param(
            lambda: jwt.encode({"role": "admin"}, JWT_SECRET, algorithm="HS256"), id="no-exp"
        ),
    ],
)
async def test_bad_jwts_are_unauthenticated(jwt_server: Server, token: Any) -> None:
    with pytest.raises(GraphQLErrors) as failed:
        await Api(jwt_server, token()).data("{ notes(limit: 1) { id } }")
    assert [e["extensions"]["code"] for e in failed.value.errors] == ["UNAUTHENTICATED"]


async def test_jwt_is_refused_when_no_secret_is_configured(server: Server) -> None:
    assert not await reads_ok(server, signed({"role": "admin"}))
