"""What every resolver sees: the repository, who is calling, and the server's limits."""

from dataclasses import dataclass, field
from typing import Any

from ..auth import Authenticator, Principal
from ..errors import Unauthenticated
from ..replication import Repository
from .fanout import SharedEvents


@dataclass
class Context:
    repository: Repository
    events: SharedEvents
    authenticator: Authenticator
    principal: Principal | None = None
    # Set by Strawberry's WebSocket handlers from the connection_init payload; None on
    # HTTP. One context serves a whole WebSocket connection.
    connection_params: dict[str, Any] | None = field(default=None)
    # Subscriptions open on this WebSocket connection.
    subscriptions: int = 0

    @property
    def over_websocket(self) -> bool:
        return self.connection_params is not None

    async def verified_principal(self) -> Principal:
        """The caller, checked anew on a long-lived connection (its token may have been
        revoked or have expired since the connection opened)."""
        principal = self.principal
        if principal is None:
            raise Unauthenticated("A valid token is required (Authorization: Bearer <token>)")
        if self.over_websocket and not await self.authenticator.still_valid(principal):
            raise Unauthenticated("The token was revoked or has expired")
        return principal
