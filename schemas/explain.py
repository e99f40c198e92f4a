"""Turn a msgspec validation failure into an InvalidEvent that names the field and the value.

msgspec says *where* (``$.payload.derivatives[1].width``) and *which rule*
(``Expected `int` >= 1``) but not the offending value. This runs only on the failure
path: it re-reads the input with :mod:`json` (no 64-bit limit, unlike orjson), walks to
the field, and words the reason from the value and the field's type
(``0 is outside [1, 2147483647]``), so a dead letter tells an operator exactly what to fix.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import msgspec.inspect as mi

from schemas.errors import InvalidEvent
from schemas.model import MAX_INT64, short, type_name

_AT = re.compile(r"(.*) - at `\$(.*)`", re.DOTALL)
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_MISSING = re.compile(r"Object missing required field `(.*)`", re.DOTALL)
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`", re.DOTALL)
_MISSING_VALUE = object()

Path = list[str | int]


def explain(exc: msgspec.ValidationError, raw: Any, root: type) -> InvalidEvent:
    """The InvalidEvent for ``exc``, raised decoding ``raw`` (bytes or str) as ``root``."""
    message, path = _split(str(exc))
    cause = exc.__cause__
    if isinstance(cause, InvalidEvent):  # raised by a record's __post_init__
        return _at(path, cause)
    for pattern, reason in ((_MISSING, "missing required field"), (_UNKNOWN, "unknown field")):
        named = pattern.fullmatch(message)
        if named:
            return InvalidEvent(reason, _dotted([*path, named.group(1)]))
    value = _value_at(raw, path)
    node = _type_at(mi.type_info(root), path)
    worded = None if value is _MISSING_VALUE or node is None else _reason(node, value)
    return InvalidEvent(worded or message[:1].lower() + message[1:], _dotted(path) or None)


def _split(text: str) -> tuple[str, Path]:
    at = _AT.fullmatch(text)
    if at is None:
        return text, []
    path: Path = [int(m[2]) if m[2] else m[1] for m in _SEGMENT.finditer(at.group(2))]
    return at.group(1), path


def _dotted(path: Path) -> str:
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def _at(path: Path, error: InvalidEvent) -> InvalidEvent:
    for segment in reversed(path):
        error = error.within(f"[{segment}]" if isinstance(segment, int) else segment)
    return error


def _value_at(raw: Any, path: Path) -> Any:
    try:
        value = json.loads(bytes(raw) if isinstance(raw, msgspec.Raw) else raw)
        for segment in path:
            value = value[segment]
    except (ValueError, KeyError, IndexError, TypeError):
        return _MISSING_VALUE
    return value


def _type_at(node: mi.Type, path: Path) -> mi.Type | None:
    for segment in path:
        node = _unwrap(node)
        if isinstance(node, mi.StructType) and isinstance(segment, str):
            found = [f.type for f in node.fields if f.encode_name == segment]
            if not found:
                return None
            node = found[0]
        elif isinstance(node, mi.VarTupleType | mi.ListType) and isinstance(segment, int):
            node = node.item_type
        elif isinstance(node, mi.TupleType) and isinstance(segment, int):
            node = node.item_types[segment]
        else:
            return None
    return node


def _unwrap(node: mi.Type) -> mi.Type:
    """The type inside descriptions and ``X | None`` (failures never concern the null)."""
    while True:
        if isinstance(node, mi.Metadata):
            node = node.type
        elif isinstance(node, mi.UnionType):
            rest = [t for t in node.types if not isinstance(t, mi.NoneType)]
            if len(rest) != 1:
                return node
            node = rest[0]
        else:
            return node


def _is_time(node: mi.Type) -> bool:
    while isinstance(node, mi.UnionType):
        node = next(t for t in node.types if not isinstance(t, mi.NoneType))
    return isinstance(node, mi.Metadata) and (node.extra_json_schema or {}).get(
        "format"
    ) == "date-time"


def _reason(node: mi.Type, value: Any) -> str | None:
    if _is_time(node):
        return f"expected RFC 3339 timestamp string, got {type_name(value)}"
    node = _unwrap(node)
    if isinstance(node, mi.IntType):
        return _int_reason(node, value)
    if isinstance(node, mi.StrType):
        return _str_reason(node, value)
    if isinstance(node, mi.LiteralType):
        if type(value) is not str:
            return f"expected string, got {type_name(value)}"
        choices = ", ".join(repr(v) for v in node.values)
        return f"expected one of {choices}, got {short(value)}"
    if isinstance(node, mi.BoolType):
        return f"expected boolean, got {type_name(value)}"
    if isinstance(node, mi.BytesType):
        if type(value) is not str:
            return f"expected base64 string or null, got {type_name(value)}"
        return "not valid base64"
    if isinstance(node, mi.VarTupleType | mi.ListType):
        if type(value) is not list:
            return f"expected array, got {type_name(value)}"
        return f"at most {node.max_length} items allowed, got {len(value)}"
    if isinstance(node, mi.TupleType):
        if type(value) is not list:
            return f"expected array, got {type_name(value)}"
        return f"expected an array of {len(node.item_types)} items, got {len(value)}"
    if isinstance(node, mi.StructType):
        return f"expected object, got {type_name(value)}"
    return None


def _int_reason(node: mi.IntType, value: Any) -> str:
    if type(value) is not int:
        return f"expected integer, got {type_name(value)}"
    low = -MAX_INT64 - 1 if node.ge is None else node.ge
    high = MAX_INT64 if node.le is None else node.le
    return f"{value} is outside [{low}, {high}]"


def _str_reason(node: mi.StrType, value: Any) -> str | None:
    if type(value) is not str:
        return f"expected string, got {type_name(value)}"
    size = len(value)
    if node.min_length is not None and size < node.min_length:
        return f"must be at least {node.min_length} characters, got {size}"
    if node.max_length is not None and size > node.max_length:
        return f"must be at most {node.max_length} characters, got {size}"
    if node.pattern is not None:
        shown = node.pattern.removeprefix("^").removesuffix("\\Z")
        return f"{short(value)} does not match {shown}"
    return None
