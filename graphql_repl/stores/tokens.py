"""Access tokens as a store keeps them: records, behind a small interface of their own.

Each backend provides a ``TokenStore`` as ``Store.tokens``; ``auth.py`` needs nothing else.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class TokenRecord:
    token_id: str
    secret_hash: str  # SHA-256 of the secret; the secret itself is never stored
    role: str
    tenant: str | None
    created_at: float  # seconds since the epoch, as are the two below
    expires_at: float | None = None
    revoked_at: float | None = None

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class TokenStore(abc.ABC):
    """The token records of one store."""

    @abc.abstractmethod
    async def save(self, record: TokenRecord) -> None:
        """Add a record (its ``token_id`` is new)."""

    @abc.abstractmethod
    async def get(self, token_id: str) -> TokenRecord | None: ...

    @abc.abstractmethod
    async def list(self) -> list[TokenRecord]:
        """Every token record (revoked and expired ones too), oldest first."""

    @abc.abstractmethod
    async def revoke(self, token_id: str, at: float) -> bool:
        """Mark a token revoked (from ``at``); False when there is no such token. Revoking
        a revoked token keeps its first revocation time."""
