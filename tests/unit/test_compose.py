"""operate/docker-compose.yml stays faithful to the launcher: same versions, same ports."""

from __future__ import annotations

import re
from pathlib import Path

from infra.settings import Settings
from operate.stack.versions import CASSANDRA_VERSION, KAFKA_VERSION

COMPOSE = (Path(__file__).resolve().parents[2] / "operate" / "docker-compose.yml").read_text()


def _image(service: str) -> str:
    match = re.search(rf"^  {service}:\n(?:    .*\n|\n)*?    image: (\S+)", COMPOSE, re.M)
    assert match, f"no image for {service} in docker-compose.yml"
    return match.group(1)


def test_images_pin_the_launcher_versions() -> None:
    assert _image("kafka") == f"apache/kafka:{KAFKA_VERSION}"
    assert _image("cassandra") == f"cassandra:{CASSANDRA_VERSION}"
    assert _image("redis").startswith("redis:7.0")


def test_published_ports_are_the_default_ports() -> None:
    stack = Settings.from_env({}).stack
    for port in (stack.kafka_port, stack.cassandra_port, stack.minio_port, stack.redis_port):
        assert f'"127.0.0.1:{port}:{port}"' in COMPOSE
