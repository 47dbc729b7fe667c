"""graphql_repl: keep copies of data in sync through a GraphQL API."""

from .demo import DEMO_MODELS, demo_registry
from .errors import BadInput, NotFound, ReplError, StoreError
from .models import Custom, Field, FieldConflict, FieldType, Model, Registry, Strategy
from .replication import Repository
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "DEMO_MODELS",
    "BadInput",
    "Custom",
    "Field",
    "FieldConflict",
    "FieldType",
    "Model",
    "NotFound",
    "Registry",
    "ReplError",
    "Repository",
    "Settings",
    "StoreError",
    "Strategy",
    "demo_registry",
]
