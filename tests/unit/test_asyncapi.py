"""The AsyncAPI document: never stale, complete, and valid YAML of exactly the built data."""

from __future__ import annotations

import json
import re
from typing import Any

from schemas.asyncapi import DOC_PATH, build, main, render
from schemas.events import event_classes
from schemas.topics import TOPICS
from schemas.yamlout import to_yaml


def test_committed_document_is_up_to_date():
    assert DOC_PATH.exists(), "run: python -m schemas.asyncapi"
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.yaml is stale: run `python -m schemas.asyncapi` and commit it"
    )
    assert main(["--check"]) == 0


def test_every_topic_is_a_channel_and_every_event_a_message():
    doc = build()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(addresses) == {t.name for t in TOPICS}
    messages = doc["components"]["messages"]
    for cls in event_classes():
        message = messages[f"{cls.TYPE}.v{cls.VERSION}"]
        assert message["name"] == cls.TYPE
        assert message["payload"]["properties"]["type"]["const"] == cls.TYPE
    for topic in TOPICS:
        channel = addresses[topic.name]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        carried = {messages[ref["$ref"].rsplit("/", 1)[1]]["name"]
                   for ref in channel["messages"].values()}  # fmt: skip
        assert carried == (set(topic.event_types) or {"deadletter"})


def test_payload_schemas_follow_the_field_specs():
    schemas = build()["components"]["schemas"]
    uploaded = schemas["photo.uploaded.v1"]
    assert uploaded["additionalProperties"] is False
    assert uploaded["required"][:3] == ["photo_id", "owner_id", "media_kind"]
    props = uploaded["properties"]
    assert props["photo_id"]["type"] == "integer" and props["photo_id"]["minimum"] == 0
    assert props["media_kind"] == {"type": "string", "enum": ["photo", "video"]}
    assert props["location"]["oneOf"][1] == {"type": "null"}
    assert props["uploaded_at"] == {"type": "string", "format": "date-time"}
    processed = schemas["photo.processed.v1"]["properties"]
    assert processed["derivatives"]["items"] == {"$ref": "#/components/schemas/Derivative"}
    assert "Derivative" in schemas and "Placeholder" in schemas
    username = schemas["user.registered.v1"]["properties"]["username"]
    assert username["maxLength"] == 30 and username["pattern"] == "^[a-z0-9._]{1,30}$"


# A reader for the block-YAML subset yamlout writes (maps, sequences, flow lists of
# scalars, >- folded prose, JSON-quoted strings), independent of the writer's code.


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if text.startswith("["):
        items = re.findall(r'"(?:[^"\\]|\\.)*"|[^,\s][^,]*', text[1:-1])
        return [_scalar(i.strip()) for i in items]
    if text in ("null", "true", "false") or re.fullmatch(r"-?[0-9]+", text):
        return json.loads(text)
    assert not text.startswith(("'", "#", "&", "*", "!", "|", ">", "%", "@", "`")), text
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    if lines[i].lstrip().startswith("-"):
        return _seq(lines, i, indent)
    return _map(lines, i, indent)


def _map(lines: list[str], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and _indent(lines[i]) == indent and not lines[i].lstrip().startswith("-"):
        line = lines[i].strip()
        if line.startswith('"'):
            m = re.match(r'("(?:[^"\\]|\\.)*"):(.*)', line)
            assert m, line
            key, rest = json.loads(m.group(1)), m.group(2).strip()
        else:
            key, _, rest = line.partition(":")
            rest = rest.strip()
        i += 1
        if rest == ">-":
            words = []
            while i < len(lines) and _indent(lines[i]) > indent:
                words.append(lines[i].strip())
                i += 1
            out[key] = " ".join(words)
        elif rest == "":
            assert _indent(lines[i]) > indent or lines[i].lstrip().startswith("-")
            out[key], i = _block(lines, i, _indent(lines[i]))
        else:
            out[key] = _scalar(rest)
    return out, i


def _seq(lines: list[str], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and _indent(lines[i]) == indent and lines[i].lstrip().startswith("-"):
        rest = lines[i].strip()[1:].strip()
        if rest == "":
            value, i = _block(lines, i + 1, _indent(lines[i + 1]))
        elif re.match(r'^(?:"(?:[^"\\]|\\.)*"|[^"\[{][^:]*):( |$)', rest):
            lines[i] = " " * (indent + 2) + rest
            value, i = _map(lines, i, indent + 2)
        else:
            value, i = _scalar(rest), i + 1
        out.append(value)
    return out, i


def parse_yaml(text: str) -> Any:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    value, i = _block(lines, 0, 0)
    assert i == len(lines), f"unparsed from line {i}: {lines[i]!r}"
    return value


def test_rendered_yaml_reads_back_as_the_built_document():
    assert parse_yaml(render()) == json.loads(json.dumps(build()))


def test_yaml_writer_quotes_whatever_would_be_misread():
    doc = {
        "plain": "application/json",
        "looks_bool": "true",
        "looks_null": "null",
        "looks_number": "1",
        "version": "3.0.0",
        "colon": "Key: value",
        "hash": "#/components",
        "unicode": "Sunset ☀️",
        "n": -1,
        "b": False,
        "none": None,
        "empty_list": [],
        "empty_map": {},
        "flow": ["a", "b,c", "true"],
        "nested": [{"x": 1, "y": [{"z": "w"}]}, [1, 2], "s"],
        "long": "word " * 30 + "end",
    }
    text = to_yaml(doc)
    assert "looks_bool: \"true\"" in text and "plain: application/json" in text
    assert 'flow: [a, "b,c", "true"]' in text
    assert "long: >-" in text
    assert parse_yaml(text) == doc
