"""Roles, permissions and tokens (CONTRACT §5).

A token is ``grepl_<id>_<secret>``. The store keeps only the id, a SHA-256 hash of the
secret, the role and the tenant; tokens are checked by id and compared in constant time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from .errors import BadInput
from .models import Model
from .stores.base import Store, TokenRecord


class Permission(enum.Enum):
    READ = "READ"
    REPLICATE = "REPLICATE"
    WRITE = "WRITE"


ROLES: dict[str, frozenset[Permission]] = {
    "reader": frozenset({Permission.READ}),
    "writer": frozenset({Permission.READ, Permission.WRITE}),
    "replicator": frozenset({Permission.READ, Permission.REPLICATE, Permission.WRITE}),
    "admin": frozenset(Permission),
}

PREFIX = "grepl"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role and (for a tenant-bound token) tenant."""

    token_id: str
    role: str
    tenant: str | None = None

    def may(self, permission: Permission, model: Model) -> bool:
        if permission not in ROLES.get(self.role, frozenset()):
            return False
        return self.role == "admin" or model.roles is None or self.role in model.roles


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(store: Store, role: str, tenant: str | None = None) -> str:
    """Store a new token and return it; only its hash is kept."""
    if role not in ROLES:
        raise BadInput(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if tenant is not None and not tenant:
        raise BadInput("A tenant must not be empty")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await store.save_token(TokenRecord(token_id, _hash(secret), role, tenant, time.time()))
    return f"{PREFIX}_{token_id}_{secret}"


async def authenticate(store: Store, token: str) -> Principal | None:
    """The principal a token stands for, or None for a malformed or unknown token."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    record = await store.get_token(parts[1])
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(parts[2])):
        return None
    return Principal(record.token_id, record.role, record.tenant)
