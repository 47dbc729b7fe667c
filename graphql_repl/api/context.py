"""What every resolver sees: the server's settings and models, who is calling, and the
repository as that caller sees it (``view``)."""

from dataclasses import dataclass, field
from typing import Any

import strawberry

from ..auth import Authenticator, Principal
from ..errors import Unauthenticated
from ..models import Registry
from ..replication import LocalModel, Repository, View
from ..settings import Settings
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
    def settings(self) -> Settings:
        return self.repository.settings

    @property
    def registry(self) -> Registry:
        return self.repository.registry

    @property
    def view(self) -> View:
        """The repository in the caller's tenant scope (every tenant for a caller bound to
        none). A property: on WebSocket the caller is known only after connection_init."""
        return self.repository.view(self.principal.tenant if self.principal else None)

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


def caller_model(info: strawberry.Info, name: str) -> LocalModel:
    """Model ``name`` as the caller of this request sees it."""
    context: Context = info.context
    return context.view.model(name)
