"""Roles, permissions and tokens (CONTRACT §5).

A token is ``grepl_<id>_<secret>``. The store keeps only the id, a SHA-256 hash of the
secret, the role, the tenant, and when it expires or was revoked; tokens are looked up by
id and their hashes compared in constant time. Deployments that issue their own tokens
can have the server accept HS256-signed JWTs instead (``GRAPHQL_REPL_JWT_SECRET``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt

from .errors import BadInput
from .models import Model
from .replication.tenancy import SEPARATOR, valid_tenant
from .settings import AUTH_RECHECK_INTERVAL
from .stores.tokens import TokenRecord, TokenStore


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
    expires_at: float | None = None  # seconds since the epoch
    # A token of our own (looked up in the store, revocable) or a signed JWT.
    kind: str = "store"

    def may(self, permission: Permission, model: Model) -> bool:
        if permission not in ROLES.get(self.role, frozenset()):
            return False
        return self.role == "admin" or model.roles is None or self.role in model.roles


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str, tenant: str | None) -> None:
    if role not in ROLES:
        raise BadInput(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if tenant is not None and not valid_tenant(tenant):
        raise BadInput(f"A tenant must be a non-empty name without {SEPARATOR!r}")


async def create_token(
    tokens: TokenStore, role: str, tenant: str | None = None, expires_at: float | None = None
) -> str:
    """Store a new token and return it; only its hash is kept."""
    check_role(role, tenant)
    now = time.time()
    if expires_at is not None and expires_at <= now:
        raise BadInput("The expiry time is in the past")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await tokens.save(TokenRecord(token_id, _hash(secret), role, tenant, now, expires_at))
    return f"{PREFIX}_{token_id}_{secret}"


def token_id_of(token: str) -> str:
    """The id in a token (``grepl_<id>_<secret>``), or the argument itself when it is
    not a whole token (an id as ``token list`` shows it)."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else token


class Authenticator:
    """Tells who a token stands for: a token of our own (its hash looked up in ``tokens``,
    active unless revoked or expired) or, when a secret is configured, a JWT signed with
    HS256 whose ``role`` and optional ``tenant`` claims give the role and tenant.

    ``authenticate`` always reads ``tokens``, so a revoked token stops working at once.
    ``still_valid`` (asked over and over by long-lived subscriptions) may answer from a
    record read at most ``recheck_interval`` seconds ago, so many subscriptions on one
    token cost one read per interval."""

    def __init__(
        self,
        tokens: TokenStore,
        jwt_secret: str | None = None,
        jwt_audience: str | None = None,
        recheck_interval: float = AUTH_RECHECK_INTERVAL,
    ) -> None:
        self.tokens = tokens
        self.jwt_secret = jwt_secret
        self.jwt_audience = jwt_audience
        self.recheck_interval = recheck_interval
        self._recent: dict[str, tuple[float, TokenRecord | None]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        """The principal ``token`` stands for, or None for a malformed, unknown, revoked
        or expired token."""
        verdict = await self.check(token)
        return verdict if isinstance(verdict, Principal) else None

    async def check(self, token: str) -> Principal | str:
        """The principal ``token`` stands for, or why it is refused: ``malformed``,
        ``unknown`` (no such token, or a wrong secret), ``revoked``, ``expired``, or
        ``invalid_jwt``."""
        if token.count(".") == 2 and self.jwt_secret is not None:
            return self._from_jwt(token) or "invalid_jwt"
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return "malformed"
        record = await self._record(parts[1], max_age=0.0)
        if record is None or not hmac.compare_digest(record.secret_hash, _hash(parts[2])):
            return "unknown"
        if not record.active(time.time()):
            return "revoked" if record.revoked_at is not None else "expired"
        return Principal(record.token_id, record.role, record.tenant, record.expires_at)

    async def still_valid(self, principal: Principal) -> bool:
        """Whether ``principal``'s token still works (not expired, not revoked)."""
        if principal.expires_at is not None and time.time() >= principal.expires_at:
            return False
        if principal.kind != "store":
            return True
        record = await self._record(principal.token_id, max_age=self.recheck_interval / 2)
        return record is not None and record.active(time.time())

    async def _record(self, token_id: str, max_age: float) -> TokenRecord | None:
        now = time.monotonic()
        recent = self._recent.get(token_id)
        if recent is not None and now - recent[0] <= max_age:
            return recent[1]
        record = await self.tokens.get(token_id)
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[token_id] = (now, record)
        return record

    def _from_jwt(self, token: str) -> Principal | None:
        assert self.jwt_secret is not None
        try:
            claims = jwt.decode(
                token,
                self.jwt_secret,
                algorithms=["HS256"],
                audience=self.jwt_audience,
                options={"require": ["exp", "role"]},
            )
        except jwt.PyJWTError:
            return None
        role, tenant = claims.get("role"), claims.get("tenant")
        if role not in ROLES or not (tenant is None or valid_tenant(tenant)):
            return None
        subject = claims.get("sub")
        return Principal(
            f"jwt:{subject}" if isinstance(subject, str) else "jwt",
            role,
            tenant,
            float(claims["exp"]),
            kind="jwt",
        )
