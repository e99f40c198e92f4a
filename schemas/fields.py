"""Declarative field specs: the type annotations of a record ARE its wire schema.

Every event payload is a frozen, slotted dataclass deriving from :class:`Record`. Its
annotations (``int``, ``str | None``, ``Literal[...]``, ``tuple[Derivative, ...]``, or
``Annotated[int, IntSpec(...)]`` for constraints) are compiled once, at import, into a
tree of small :class:`Spec` objects. That one tree serves three jobs, so they can never
disagree:

* ``load``: JSON value -> Python value, on every consumer's hot path. It does no string
  formatting on success; the dotted path of a bad field is assembled only while an
  :class:`~schemas.errors.InvalidEvent` propagates outwards.
* ``check``: validate a Python object before it is encoded, so nothing a decoder would
  reject is ever published.
* ``json_schema``: the JSON Schema written into the AsyncAPI document.

Why not pydantic: decoding happens for every Kafka record in every processor, the
contracts are small and flat, and one validator we own is easier to reason about
(strict int vs bool, exact error paths) than a dependency's coercion rules.
"""

from __future__ import annotations

import inspect
import re
import types
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from schemas.errors import InvalidEvent
from schemas.rfc3339 import parse_rfc3339

MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)

JsonSchema = dict[str, Any]

_TYPE_NAMES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}


def type_name(value: object) -> str:
    """The JSON name of ``value``'s type (``integer``, ``string``...), else its class name."""
    return _TYPE_NAMES.get(type(value)) or type(value).__name__


def _expected(what: str, value: object) -> InvalidEvent:
    return InvalidEvent(f"expected {what}, got {type_name(value)}")


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


class Spec(ABC):
    """How one field is read from JSON, checked before encoding, and documented."""

    @abstractmethod
    def load(self, value: object) -> object:
        """Validate a decoded JSON value and return its Python form; raise InvalidEvent."""

    @abstractmethod
    def check(self, value: object) -> None:
        """Validate a Python value about to be encoded; raise InvalidEvent."""

    @abstractmethod
    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        """The JSON Schema of the field's wire form (nested records go through ``refs``)."""


@dataclass(frozen=True)
class IntSpec(Spec):
    """A real JSON integer (never a bool, float or numeric string) within bounds."""

    minimum: int = MIN_INT64
    maximum: int = MAX_INT64
    description: str = ""

    def load(self, value: object) -> object:
        if type(value) is not int:
            raise _expected("integer", value)
        if value < self.minimum or value > self.maximum:
            raise InvalidEvent(f"{value} is outside [{self.minimum}, {self.maximum}]")
        return value

    def check(self, value: object) -> None:
        self.load(value)

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        schema: JsonSchema = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        return _described(schema, self.description)


@dataclass(frozen=True)
class StrSpec(Spec):
    """A string with length bounds (in code points) and an optional full-match pattern."""

    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern))

    def load(self, value: object) -> object:
        if type(value) is not str:
            raise _expected("string", value)
        n = len(value)
        if n < self.min_length:
            raise InvalidEvent(f"must be at least {self.min_length} characters, got {n}")
        if self.max_length is not None and n > self.max_length:
            raise InvalidEvent(f"must be at most {self.max_length} characters, got {n}")
        if self._regex is not None and not self._regex.fullmatch(value):
            raise InvalidEvent(f"{_short(value)} does not match {self.pattern}")
        return value

    def check(self, value: object) -> None:
        self.load(value)

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        schema: JsonSchema = {"type": "string"}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = f"^{self.pattern}$"
        return _described(schema, self.description)


@dataclass(frozen=True)
class BoolSpec(Spec):
    """A JSON ``true``/``false`` (``0``/``1`` are rejected)."""

    def load(self, value: object) -> object:
        if type(value) is not bool:
            raise _expected("boolean", value)
        return value

    def check(self, value: object) -> None:
        self.load(value)

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        return {"type": "boolean"}


@dataclass(frozen=True)
class EnumSpec(Spec):
    """One of a fixed set of strings (from a ``Literal[...]`` annotation)."""

    values: tuple[str, ...]

    def load(self, value: object) -> object:
        if type(value) is not str:
            raise _expected("string", value)
        if value not in self.values:
            choices = ", ".join(repr(v) for v in self.values)
            raise InvalidEvent(f"expected one of {choices}, got {_short(value)}")
        return value

    def check(self, value: object) -> None:
        self.load(value)

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        return {"type": "string", "enum": list(self.values)}


@dataclass(frozen=True)
class TimeSpec(Spec):
    """An RFC 3339 timestamp string on the wire, an aware UTC ``datetime`` in Python."""

    def load(self, value: object) -> object:
        if type(value) is not str:
            raise _expected("RFC 3339 timestamp string", value)
        try:
            return parse_rfc3339(value)
        except ValueError as exc:
            raise InvalidEvent(f"{_short(value)}: {exc}") from None

    def check(self, value: object) -> None:
        if not isinstance(value, datetime):
            raise _expected("datetime", value)
        if value.utcoffset() is None:
            raise InvalidEvent("naive datetime: a timezone (UTC) is required")

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        return {"type": "string", "format": "date-time"}


@dataclass(frozen=True)
class NullableSpec(Spec):
    """``X | None``: the key must be present; its value may be ``null``."""

    inner: Spec

    def load(self, value: object) -> object:
        return None if value is None else self.inner.load(value)

    def check(self, value: object) -> None:
        if value is not None:
            self.inner.check(value)

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        return {"oneOf": [self.inner.json_schema(refs), {"type": "null"}]}


@dataclass(frozen=True)
class MaxItems:
    """Annotation marker bounding a ``tuple[X, ...]`` field: ``Annotated[..., MaxItems(8)]``."""

    count: int


@dataclass(frozen=True)
class ArraySpec(Spec):
    """``tuple[X, ...]`` in Python (frozen records stay hashable), a JSON array on the wire."""

    item: Spec
    max_items: int | None = None

    def load(self, value: object) -> object:
        if type(value) is not list:
            raise _expected("array", value)
        self._check_len(value)
        load = self.item.load
        out = []
        i = 0
        try:
            for i, item in enumerate(value):  # noqa: B007 - i names the failing element
                out.append(load(item))
        except InvalidEvent as exc:
            raise exc.within(f"[{i}]") from None
        return tuple(out)

    def check(self, value: object) -> None:
        if type(value) is not tuple:
            raise _expected("tuple", value)
        self._check_len(value)
        for i, item in enumerate(value):
            try:
                self.item.check(item)
            except InvalidEvent as exc:
                raise exc.within(f"[{i}]") from None

    def _check_len(self, value: list[object] | tuple[object, ...]) -> None:
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidEvent(f"at most {self.max_items} items allowed, got {len(value)}")

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        schema: JsonSchema = {"type": "array", "items": self.item.json_schema(refs)}
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


class Record:
    """Base of every wire object: a frozen, slotted dataclass whose annotations are its schema.

    Subclasses are declared with ``@dataclass(frozen=True, slots=True)``; their spec is
    compiled on first use by :func:`record_spec` (registries call it at import so a bad
    annotation fails at startup, not on the first message).
    """

    __slots__ = ()

    @classmethod
    def schema_name(cls) -> str:
        """The name of this record's schema in generated documents."""
        return cls.__name__


class RecordSpec(Spec):
    """A JSON object with exactly the record's fields, loaded into the record class."""

    cls: type[Record]
    fields: tuple[tuple[str, Spec], ...]
    names: frozenset[str]
    _loaders: tuple[tuple[str, Callable[[object], object]], ...]

    def __init__(self, cls: type[Record]) -> None:
        if not is_dataclass(cls):
            raise TypeError(f"{cls.__qualname__} must be a dataclass")
        hints = get_type_hints(cls, include_extras=True)
        self.cls = cls
        self.fields = tuple(
            (f.name, spec_for(hints[f.name], f"{cls.__qualname__}.{f.name}")) for f in fields(cls)
        )
        self.names = frozenset(name for name, _ in self.fields)
        self._loaders = tuple((name, spec.load) for name, spec in self.fields)

    def load(self, value: object) -> object:
        if type(value) is not dict:
            raise _expected("object", value)
        if value.keys() != self.names:
            raise self._key_error(value)
        kwargs: dict[str, object] = {}
        name = ""
        try:
            for name, load in self._loaders:
                kwargs[name] = load(value[name])
        except InvalidEvent as exc:
            raise exc.within(name) from None
        return self.cls(**kwargs)

    def _key_error(self, value: dict[Any, object]) -> InvalidEvent:
        for name, _ in self.fields:  # declaration order: the first missing field is reported
            if name not in value:
                return InvalidEvent("missing required field", name)
        extra = sorted(str(k) for k in value.keys() - self.names)
        return InvalidEvent("unknown field", extra[0])

    def check(self, value: object) -> None:
        if type(value) is not self.cls:
            raise _expected(self.cls.__name__, value)
        for name, spec in self.fields:
            try:
                spec.check(getattr(value, name))
            except InvalidEvent as exc:
                raise exc.within(name) from None

    def json_schema(self, refs: SchemaRefs) -> JsonSchema:
        return refs.ref(self)

    def definition(self, refs: SchemaRefs) -> JsonSchema:
        """The full object schema (what ``json_schema`` points at)."""
        schema: JsonSchema = {"type": "object"}
        doc = first_paragraph(self.cls)
        if doc:
            schema["description"] = doc
        schema["additionalProperties"] = False
        schema["required"] = [name for name, _ in self.fields]
        schema["properties"] = {name: spec.json_schema(refs) for name, spec in self.fields}
        return schema


class SchemaRefs:
    """Collects the record definitions referenced while generating JSON Schemas."""

    def __init__(self, prefix: str = "#/components/schemas/") -> None:
        self.prefix = prefix
        self.definitions: dict[str, JsonSchema] = {}

    def ref(self, spec: RecordSpec) -> JsonSchema:
        """A ``$ref`` to ``spec``'s definition, adding the definition on first sight."""
        name = spec.cls.schema_name()
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder first: guards against recursion
            self.definitions[name] = spec.definition(self)
        return {"$ref": self.prefix + name}


def first_paragraph(obj: object) -> str:
    """The first paragraph of ``obj``'s docstring on one line ('' when there is none)."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _described(schema: JsonSchema, description: str) -> JsonSchema:
    if description:
        schema["description"] = description
    return schema


_RECORD_SPECS: dict[type[Record], RecordSpec] = {}


def record_spec(cls: type[Record]) -> RecordSpec:
    """The compiled (and cached) spec of a record class."""
    spec = _RECORD_SPECS.get(cls)
    if spec is None:
        spec = _RECORD_SPECS[cls] = RecordSpec(cls)
    return spec


def spec_for(annotation: object, where: str = "field") -> Spec:
    """Compile one field annotation into a :class:`Spec` (``TypeError`` if unsupported)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        base, *extras = args
        for extra in extras:
            if isinstance(extra, Spec):
                return extra
        spec = spec_for(base, where)
        for extra in extras:
            if isinstance(extra, MaxItems) and isinstance(spec, ArraySpec):
                spec = ArraySpec(spec.item, extra.count)
        return spec
    if annotation is bool:
        return BoolSpec()
    if annotation is int:
        return IntSpec()
    if annotation is str:
        return StrSpec()
    if annotation is datetime:
        return TimeSpec()
    if origin is Literal and all(isinstance(a, str) for a in args):
        return EnumSpec(tuple(args))
    if origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return NullableSpec(spec_for(rest[0], where))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return ArraySpec(spec_for(args[0], where))
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return record_spec(annotation)
    raise TypeError(f"{where}: unsupported annotation {annotation!r}")
