"""Models declared in Python: typed fields, per-field conflict strategies, access narrowing.

A model is a named collection of JSON documents with a string ``id``::

    Note = Model(
        "Note",
        fields=(
            Field("title", FieldType.STRING, Strategy.LATEST),
            Field("tags", FieldType.STRING_LIST, Strategy.UNION),
            Field("tenantId", FieldType.STRING),
        ),
        default_strategy=Strategy.LATEST,
        tenant_field="tenantId",
    )

``validate`` turns an incoming document into its normal form (declared fields only, values
of the declared type, ``None`` dropped), so equal content hashes to the same rev everywhere.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import InvalidDocument, UnknownModel
from .wording import did_you_mean

Document = dict[str, Any]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class FieldType(enum.Enum):
    ID = "ID"
    STRING = "String"
    INT = "Int"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    STRING_LIST = "[String]"
    JSON = "JSON"


# Field types whose valid values need no coercion or range check, by their Python type.
_PLAIN = {FieldType.ID: str, FieldType.STRING: str, FieldType.BOOLEAN: bool}


class Strategy(enum.Enum):
    """How a field that both sides changed is merged."""

    SOURCE_WINS = "SOURCE_WINS"
    TARGET_WINS = "TARGET_WINS"
    LATEST = "LATEST"
    MAX = "MAX"
    MIN = "MIN"
    UNION = "UNION"
    MANUAL = "MANUAL"


@dataclass(frozen=True)
class FieldConflict:
    """What a custom strategy sees: the base and both sides' values and clock stamps."""

    field: str
    base: Any
    source: Any
    target: Any
    source_stamp: str | None
    target_stamp: str | None


@dataclass(frozen=True)
class Custom:
    """A named custom strategy: ``merge`` returns the merged value.

    For replicas to converge, ``merge`` should not depend on which side is the source.
    """

    name: str
    merge: Callable[[FieldConflict], Any]


FieldStrategy = Strategy | Custom


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = FieldType.STRING
    strategy: FieldStrategy | None = None  # None: the model's default


@dataclass(frozen=True)
class Model:
    """A model declaration. ``roles`` narrows which roles may use it at all (None: any).

    ``change_properties`` are recorded with each change (a tombstone keeps them, so
    filters on them match deletions too). ``tenant_field`` names the string field that
    says which tenant a document belongs to: tenant-bound tokens then see only their
    tenant's documents of this model, in an id space of their own (a model without one
    is closed to tenant-bound tokens). It is a change property.
    """

    name: str
    fields: tuple[Field, ...]
    default_strategy: FieldStrategy = Strategy.MANUAL
    roles: frozenset[str] | None = None
    change_properties: tuple[str, ...] = ()
    tenant_field: str | None = None
    by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    # Per field, the Python type whose values need no coercion (validation's fast path).
    plain: Mapping[str, type | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"Model name {self.name!r} must be alphanumeric, starting with a letter"
            )
        fields = {"id": Field("id", FieldType.ID)}
        for f in self.fields:
            if f.name == "id":
                continue
            if not _FIELD_NAME.match(f.name):
                raise ValueError(f"{self.name}: invalid field name {f.name!r}")
            if f.name in fields:
                raise ValueError(f"{self.name}: field {f.name!r} declared twice")
            if f.strategy is Strategy.UNION and f.type not in (
                FieldType.STRING_LIST,
                FieldType.JSON,
            ):
                raise ValueError(f"{self.name}.{f.name}: UNION needs a list field")
            fields[f.name] = f
        if self.tenant_field is not None:
            tenant = fields.get(self.tenant_field)
            if tenant is None or tenant.type is not FieldType.STRING:
                raise ValueError(
                    f"{self.name}: tenant field {self.tenant_field!r} must be a String field"
                )
            if self.tenant_field not in self.change_properties:
                object.__setattr__(
                    self, "change_properties", (*self.change_properties, self.tenant_field)
                )
        for prop in self.change_properties:
            if prop not in fields:
                raise ValueError(f"{self.name}: change property {prop!r} is not a field")
        object.__setattr__(self, "by_name", fields)
        object.__setattr__(self, "plain", {n: _PLAIN.get(f.type) for n, f in fields.items()})

    def strategy(self, field_name: str) -> FieldStrategy:
        declared = self.by_name[field_name].strategy
        return self.default_strategy if declared is None else declared

    def validate(self, document: Any, model_id: str | None = None) -> Document:
        """Return the normal form of ``document`` or raise ``InvalidDocument``.

        ``model_id``, when given, is the id the document must have (it is filled in when
        the document has none).
        """
        if not isinstance(document, dict):
            raise InvalidDocument(f"{self.name}: a document must be a JSON object")
        out: Document = {}
        for key, value in document.items():
            spec = self.by_name.get(key)
            if spec is None:
                raise InvalidDocument(f"{self.name}: unknown field {key!r}")
            if value is not None:
                plain = type(value) is self.plain[key]
                out[key] = value if plain else coerce_value(self.name, spec, value)
        if model_id is not None and out.setdefault("id", model_id) != model_id:
            raise InvalidDocument(f"{self.name}: document id {out['id']!r} is not {model_id!r}")
        if not out.get("id"):
            raise InvalidDocument(f"{self.name}: a document needs a non-empty string id")
        return out


def coerce_value(model: str, spec: Field, value: Any) -> Any:
    kind = spec.type
    if kind in (FieldType.ID, FieldType.STRING):
        if isinstance(value, str):
            return value
    elif kind is FieldType.INT:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and INT_MIN <= value <= INT_MAX:
            return value
    elif kind is FieldType.FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an int beyond any float
                number = math.inf
            if math.isfinite(number):
                return number
    elif kind is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif kind is FieldType.STRING_LIST:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    elif _json_safe(value):
        return value
    raise InvalidDocument(f"{model}.{spec.name} must be of type {kind.value}, got {value!r:.60}")


# What every store (and the JSON encoder) can hold: signed 64-bit integers, finite floats.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _json_safe(value: Any) -> bool:
    """Whether ``value`` is JSON that a store keeps as it is."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    return False


def load_module(spec: str) -> ModuleType:
    """The module ``spec`` names: a ``.py`` file's path, or a module name, looked up on
    ``sys.path`` and then in the current directory (console scripts do not search it)."""
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).expanduser().absolute()
        if not path.is_file():
            raise ImportError(f"no file {path}")
        loader = importlib.util.spec_from_file_location(path.stem, path)
        if loader is None or loader.loader is None:
            raise ImportError(f"cannot load {path} as a module")
        module = importlib.util.module_from_spec(loader)
        sys.modules[path.stem] = module
        loader.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        if exc.name != spec.partition(".")[0] or here in sys.path:
            raise
        sys.path.append(here)
        try:
            return importlib.import_module(spec)
        except ModuleNotFoundError as again:
            if again.name != exc.name:
                raise
            raise ModuleNotFoundError(
                f"no module named {spec!r} on the path or in {here}", name=exc.name
            ) from None


class Registry:
    """The models a server serves, by name."""

    @classmethod
    def from_module(cls, module_name: str) -> Registry:
        """The models declared in a module: its ``MODELS`` sequence if it has one, else
        every ``Model`` defined at its top level. ``module_name`` is a module's name (one in
        the current directory is found too) or the path of a ``.py`` file."""
        module = load_module(module_name)
        declared = getattr(module, "MODELS", None)
        if declared is None:
            declared = [v for v in vars(module).values() if isinstance(v, Model)]
        if not declared:
            raise ValueError(f"Module {module_name!r} declares no models")
        return cls(declared)

    def __init__(self, models: Iterable[Model]) -> None:
        self._models: dict[str, Model] = {}
        for model in models:
            if model.name in self._models:
                raise ValueError(f"Model {model.name!r} registered twice")
            self._models[model.name] = model

    def get(self, name: str) -> Model:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModel(name, did_you_mean(name, self._models)) from None

    def __iter__(self) -> Iterator[Model]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
