"""Who calls in the security suite: a token per role, a replicator bound to tenant t1, no
token, an unknown token."""

from __future__ import annotations

from servers import Server  # tests/servers.py (pytest puts tests/ on sys.path)

CALLERS = ("admin", "writer", "reader", "replicator", "tenant", "none", "bad")
BAD_TOKEN = "grepl_0000000000000000_notarealsecret"
TENANT = "t1"  # the tenant of the "tenant" caller


def caller_token(server: Server, caller: str) -> str | None:
    """The token ``caller`` sends to ``server`` (None: no token)."""
    if caller == "none":
        return None
    if caller == "bad":
        return BAD_TOKEN
    if caller == "tenant":
        return server.token("replicator", TENANT)
    return server.token(caller)


def auth(token: str | None) -> dict[str, str]:
    """The HTTP headers that send ``token``."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}
