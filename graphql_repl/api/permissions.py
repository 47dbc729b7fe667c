"""Permissions declared once, as ``@auth(requires: ...)`` on fields, and enforced by the
same object that declares them (Strawberry's ``PermissionExtension`` with directives)."""

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from ..auth import Permission as Perm
from ..errors import Forbidden
from .context import Context
from .types import Permission


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="auth",
    description="The permission a token needs on the field's model(s).",
)
class Auth:
    requires: Permission


class Requires(BasePermission):
    """Needs ``permission`` on the model named by the field's ``model`` argument (or on
    the fixed ``model`` of a typed field). ``replicate`` needs REPLICATE on ``source``
    and WRITE on ``target``."""

    def __init__(self, permission: Perm, model: str | None = None) -> None:
        self.permission = permission
        self.model = model
        self._schema_directive = Auth(requires=Permission[permission.name])  # type: ignore[misc]

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        context: Context = info.context
        principal = await context.caller(kwargs.get("headers"))
        if self.model is not None:
            wanted = [(self.model, self.permission)]
        elif "source_model" in kwargs and "target" in kwargs:
            wanted = [(kwargs["source_model"], Perm.REPLICATE), (kwargs["target"], Perm.WRITE)]
        else:
            wanted = [(kwargs["model"], self.permission)]
        for name, permission in wanted:
            model = context.registry.get(name)
            if not principal.may(permission, model):
                raise Forbidden(f"This token may not {permission.value} {model.name}")
        return True


def requires(permission: Perm, model: str | None = None) -> list[FieldExtension]:
    """The field extensions that declare and enforce ``permission``."""
    return [PermissionExtension([Requires(permission, model)], use_directives=True)]


def guarded(
    kind: Callable[..., Any],
    permission: Perm,
    description: str,
    model: str | None = None,
    **options: Any,
) -> Any:
    """A root field (``kind``: ``strawberry.field``, ``mutation`` or ``subscription``) that
    requires ``permission``: declared as ``@auth``, enforced, and said in its description."""
    return kind(
        extensions=requires(permission, model),
        description=f"{description} {needs(permission, model)}",
        **options,
    )


def needs(permission: Perm, model: str | None = None) -> str:
    """The sentence a root field's description ends with: the permission it requires
    (introspection does not show directives, so clients and GraphiQL read it here)."""
    where = f"on {model}" if model else "on the model named by `model`"
    return f"Requires the {permission.value} permission {where}."
