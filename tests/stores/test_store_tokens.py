"""Token records (``Store.tokens``), and ``auth`` over them, on every backend."""

from __future__ import annotations

import time

import pytest

from graphql_repl.auth import Authenticator, create_token
from graphql_repl.errors import BadInput, StoreError
from graphql_repl.stores import TokenRecord, TokenStore


def token_record(token_id: str, created_at: float, **extra: float | None) -> TokenRecord:
    return TokenRecord(token_id, f"hash-of-{token_id}", "reader", None, created_at, **extra)


async def test_saved_token_is_read_back_by_id(store):
    record = TokenRecord("t1", "hash", "writer", "acme", 100.0, expires_at=200.0)

    await store.tokens.save(record)

    assert isinstance(store.tokens, TokenStore)
    assert await store.tokens.get("t1") == record
    assert await store.tokens.get("nosuchtoken") is None


async def test_list_gives_every_token_oldest_first(store):
    for token_id, created_at in [("b", 2.0), ("c", 1.0), ("a", 2.0)]:
        await store.tokens.save(token_record(token_id, created_at))
    await store.tokens.revoke("a", 5.0)

    listed = await store.tokens.list()

    assert [r.token_id for r in listed] == ["c", "a", "b"]
    assert [r.revoked_at for r in listed] == [None, 5.0, None]


async def test_revoke_keeps_the_first_revocation_time(store):
    await store.tokens.save(token_record("t1", 1.0))

    assert await store.tokens.revoke("t1", 10.0) is True
    assert await store.tokens.revoke("t1", 20.0) is True
    assert await store.tokens.revoke("nosuchtoken", 10.0) is False

    revoked = await store.tokens.get("t1")
    assert revoked is not None
    assert revoked.revoked_at == 10.0
    assert not revoked.active(11.0)


async def test_token_operations_on_a_closed_store_raise_store_error(store):
    await store.close()

    with pytest.raises(StoreError):
        await store.tokens.get("t1")


async def test_created_token_authenticates_until_revoked(store):
    token = await create_token(store.tokens, "writer", "acme")
    authenticator = Authenticator(store.tokens)
    token_id = token.split("_")[1]

    principal = await authenticator.authenticate(token)

    assert principal is not None
    assert (principal.token_id, principal.role, principal.tenant) == (token_id, "writer", "acme")
    assert await authenticator.authenticate(token + "x") is None
    assert await authenticator.still_valid(principal)
    stored = await store.tokens.get(token_id)
    assert stored is not None
    assert token.split("_", 2)[2] not in stored.secret_hash

    assert await store.tokens.revoke(token_id, time.time())
    assert await authenticator.authenticate(token) is None


async def test_create_token_refuses_an_expiry_in_the_past(store):
    with pytest.raises(BadInput, match="in the past"):
        await create_token(store.tokens, "reader", expires_at=time.time() - 1)

    assert await store.tokens.list() == []
