"""A tiny block-style YAML writer for JSON-shaped data (dicts, lists, str, int, bool, None).

The AsyncAPI document is the only YAML we write, and its content is plain JSON data, so
one small module beats a runtime dependency. Strings are emitted plain when that is unambiguous
and JSON-double-quoted otherwise (a JSON string is a valid YAML double-quoted scalar),
so the output always reads back as exactly the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_PLAIN = re.compile(r"[A-Za-z_$/][A-Za-z0-9_$ .,;/()+'=-]*")
_FLOW_PLAIN = re.compile(r"[A-Za-z_$/][A-Za-z0-9_$./+-]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
_FLOW_WIDTH = 80
_FOLD_WIDTH = 88
_FOLDABLE = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces


def _string(text: str, flow: bool) -> str:
    pattern = _FLOW_PLAIN if flow else _PLAIN
    if pattern.fullmatch(text) and text.lower() not in _RESERVED and not text.endswith(" "):
        return text
    return json.dumps(text)


def _scalar(value: object, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value, flow)
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list | tuple) and not value:
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _is_scalar(value: object) -> bool:
    return not isinstance(value, Mapping | list | tuple) or not value


def _flow_list(items: Sequence[object]) -> str | None:
    """``[a, b]`` for short lists of scalars (``required`` lists read better that way)."""
    if not all(_is_scalar(i) and not isinstance(i, Mapping | list | tuple) for i in items):
        return None
    text = "[" + ", ".join(_scalar(i, flow=True) for i in items) + "]"
    return text if len(text) <= _FLOW_WIDTH else None


def _folded(text: str, indent: int) -> list[str] | None:
    """Long prose as a ``>-`` block: wrapped lines that fold back into the one-line text.

    Only for single-spaced printable text, where folding (line break -> one space) is
    exactly the inverse of the wrapping.
    """
    if len(text) <= _FOLD_WIDTH or not _FOLDABLE.fullmatch(text):
        return None
    width = max(_FOLD_WIDTH - 2 * indent, 40)
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return ["  " * indent + ln for ln in lines]


def _mapping(doc: Mapping[str, object], indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for key, value in doc.items():
        head = f"{pad}{_string(str(key), flow=False)}:"
        folded = _folded(value, indent + 1) if isinstance(value, str) else None
        if folded is not None:
            out.append(f"{head} >-")
            out.extend(folded)
        elif _is_scalar(value):
            out.append(f"{head} {_scalar(value)}")
        elif isinstance(value, Mapping):
            out.append(head)
            _mapping(value, indent + 1, out)
        else:
            assert isinstance(value, list | tuple)
            flow = _flow_list(value)
            if flow is not None:
                out.append(f"{head} {flow}")
            else:
                out.append(head)
                _sequence(value, indent + 1, out)


def _sequence(items: Sequence[object], indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for item in items:
        if _is_scalar(item):
            out.append(f"{pad}- {_scalar(item)}")
        elif isinstance(item, Mapping):
            sub: list[str] = []
            _mapping(item, indent + 1, sub)
            out.append(f"{pad}- {sub[0].lstrip()}")
            out.extend(sub[1:])
        else:
            assert isinstance(item, list | tuple)
            out.append(f"{pad}-")
            _sequence(item, indent + 1, out)


def to_yaml(doc: Mapping[str, object]) -> str:
    """Render ``doc`` as block YAML, ending with a newline."""
    out: list[str] = []
    _mapping(doc, 0, out)
    return "\n".join(out) + "\n"
