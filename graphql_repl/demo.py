"""The built-in demo models, served when no models module is given (CONTRACT §4)."""

from __future__ import annotations

from .models import Field, FieldType, Model, Registry, Strategy

S = FieldType.STRING

Note = Model(
    "Note",
    fields=(
        Field("title", S, Strategy.LATEST),
        Field("body", S, Strategy.LATEST),
        Field("tags", FieldType.STRING_LIST, Strategy.UNION),
        Field("views", FieldType.INT, Strategy.MAX),
        Field("tenantId", S),
    ),
    default_strategy=Strategy.LATEST,
    tenant_field="tenantId",
)

_USER_FIELDS = (Field("name", S), Field("email", S))
User = Model("User", fields=_USER_FIELDS)
RemoteUser = Model("RemoteUser", fields=_USER_FIELDS)

FinancialRecord = Model(
    "FinancialRecord",
    fields=(Field("account", S), Field("amount", FieldType.FLOAT), Field("currency", S)),
    roles=frozenset({"admin"}),
)

DEMO_MODELS = (Note, User, RemoteUser, FinancialRecord)


def demo_registry() -> Registry:
    return Registry(DEMO_MODELS)
