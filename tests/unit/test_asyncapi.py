"""The AsyncAPI document: never stale, complete, and valid YAML of exactly the built data."""

from __future__ import annotations

import json

import yaml

from schemas.asyncapi import DOC_PATH, build, main, render
from schemas.events import event_classes
from schemas.topics import TOPICS


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


def test_payload_schemas_follow_the_models():
    schemas = build()["components"]["schemas"]
    uploaded = schemas["photo.uploaded.v1"]
    assert uploaded["additionalProperties"] is False
    assert uploaded["required"][:3] == ["photo_id", "owner_id", "media_kind"]
    props = uploaded["properties"]
    assert props["photo_id"]["type"] == "integer" and props["photo_id"]["minimum"] == 0
    assert props["media_kind"] == {"enum": ["photo", "video"]}
    assert props["location"]["anyOf"][1] == {"type": "null"}
    assert props["uploaded_at"] == {"format": "date-time", "type": "string"}
    processed = schemas["photo.processed.v1"]["properties"]
    assert processed["derivatives"]["items"] == {"$ref": "#/components/schemas/Derivative"}
    assert "Derivative" in schemas and "Placeholder" in schemas
    username = schemas["user.registered.v1"]["properties"]["username"]
    assert username["maxLength"] == 30 and username["pattern"] == "^[a-z0-9._]{1,30}$"


def test_rendered_yaml_reads_back_as_the_built_document():
    assert yaml.safe_load(render()) == json.loads(json.dumps(build()))
