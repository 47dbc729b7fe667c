"""What every resolver sees: the repository and who is calling."""

from dataclasses import dataclass, field
from typing import Any

from ..auth import Principal
from ..replication import Repository
from .fanout import SharedEvents


@dataclass
class Context:
    repository: Repository
    events: SharedEvents
    principal: Principal | None = None
    # Set by Strawberry's WebSocket handlers from the connection_init payload.
    connection_params: dict[str, Any] | None = field(default=None)
