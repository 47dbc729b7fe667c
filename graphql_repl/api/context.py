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
from .connections import Connection
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
    # The caller's address (host:port), for the logs.
    client: str | None = None
    # Why the token the request (or connection) presented was refused, if it was.
    refusal: str | None = None
    # The WebSocket connection this context serves (None on HTTP).
    connection: Connection | None = None

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
        await self.recheck(principal)
        return principal

    async def recheck(self, principal: Principal) -> None:
        """Raise ``Unauthenticated`` once ``principal``'s token was revoked or expired
        (asked again and again on a long-lived connection)."""
        if self.over_websocket and not await self.authenticator.still_valid(principal):
            raise Unauthenticated("The token was revoked or has expired")

    async def caller(self, headers: object = None) -> Principal:
        """The caller of an operation that may carry its own ``headers`` (RxDB's stream
        sends its headers as a variable): their ``Authorization`` (any letter case) must
        name the connection's token, or stands in for one when the connection has none."""
        token = header_token(headers)
        if token is None:
            return await self.verified_principal()
        principal = await self.authenticator.authenticate(token)
        if principal is None:
            raise Unauthenticated("Unknown, revoked or expired token in the headers")
        if self.principal is not None and principal.token_id != self.principal.token_id:
            raise Unauthenticated("The headers name another token than the connection's")
        return principal

    def view_of(self, principal: Principal) -> View:
        """The repository as ``principal`` sees it."""
        return self.repository.view(principal.tenant)


def authenticator_for(repository: Repository) -> Authenticator:
    """The authenticator of a server over ``repository``: its tokens and its settings'
    JWT secret, audience and recheck interval."""
    settings = repository.settings
    return Authenticator(
        repository.tokens,
        settings.jwt_secret,
        settings.jwt_audience,
        settings.auth_recheck_interval,
    )


def bearer(value: Any) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` value."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def header_token(headers: object) -> str | None:
    """The bearer token of a headers object's ``Authorization``, in any letter case."""
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "authorization":
            return bearer(value)
    return None


def caller_model(info: strawberry.Info, name: str) -> LocalModel:
    """Model ``name`` as the caller of this request sees it."""
    context: Context = info.context
    return context.view.model(name)
