"""JSON log lines parse, carry their context, and never contain a secret or a token."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaConnectionError

from infra.http.auth import mint
from infra.logging_setup import (
    REDACTED,
    STARTUP_GRACE_S,
    CoordinatorNotElectedYet,
    configure,
    log_context,
)
from infra.settings import Settings

SECRETS = {"PHOTOSTREAM_JWT_SECRET": "s3cr3t-signing-key-for-tests-only",
           "PHOTOSTREAM_S3_SECRET_KEY": "minio-secret-\"quoted\"-value",
           "PHOTOSTREAM_CASSANDRA_PASSWORD": "cass-pass-123"}


@pytest.fixture
def json_log() -> Iterator[tuple[io.StringIO, Settings]]:
    settings = Settings.from_env({**SECRETS, "PHOTOSTREAM_LOG_FORMAT": "json"})
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure(settings, "test-service", stream=out)
    yield out, settings
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_have_timestamp_level_service_and_context(json_log) -> None:
    out, _ = json_log
    log = logging.getLogger("photostream.test")
    with log_context(topic="photostream.likes", partition=3, offset=17, event_id="e1"):
        log.info("handled %s", "it", extra={"photo_id": 42, "user_id": 7, "junk": object()})
    log.warning("outside")
    first, second = lines(out)
    assert first["message"] == "handled it" and first["level"] == "INFO"
    assert first["service"] == "test-service" and first["logger"] == "photostream.test"
    assert str(first["timestamp"]).endswith("Z") and "T" in str(first["timestamp"])
    assert {k: first[k] for k in ("topic", "partition", "offset", "event_id", "photo_id",
                                  "user_id")} == {"topic": "photostream.likes", "partition": 3,
                                                  "offset": 17, "event_id": "e1",
                                                  "photo_id": 42, "user_id": 7}
    assert "junk" not in first
    assert "topic" not in second and second["level"] == "WARNING"


async def test_context_is_per_asyncio_task(json_log) -> None:
    out, _ = json_log
    log = logging.getLogger("photostream.test")

    async def work(offset: int) -> None:
        with log_context(offset=offset):
            await asyncio.sleep(0.01 * (3 - offset))
            log.info("done")

    await asyncio.gather(*(work(i) for i in range(3)))
    assert sorted(int(str(line["offset"])) for line in lines(out)) == [0, 1, 2]


def test_no_secret_or_token_is_ever_logged(json_log) -> None:
    out, settings = json_log
    token = mint(42, settings)
    log = logging.getLogger("photostream.test")
    log.info("settings: %r", settings)
    log.info("request headers: Authorization: Bearer %s", token)
    log.info("got token %s", token)
    log.info("presigned http://minio/x?X-Amz-Credential=AKIA/x&X-Amz-Signature=abcdef0123")
    try:
        raise RuntimeError(f"connect failed password={settings.cassandra.password}")
    except RuntimeError:
        log.exception("boom")
    text = out.getvalue()
    for secret in [*SECRETS.values(), token, "abcdef0123", token.split(".")[2]]:
        assert secret not in text, secret
    assert json.dumps(SECRETS["PHOTOSTREAM_S3_SECRET_KEY"])[1:-1] not in text
    assert text.count(REDACTED) >= 6
    assert all(isinstance(line, dict) for line in lines(out))  # still valid JSON


def test_text_format_redacts_too() -> None:
    settings = Settings.from_env({**SECRETS})
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure(settings, "svc", stream=out)
        logging.getLogger("x").error("secret is %s", SECRETS["PHOTOSTREAM_JWT_SECRET"])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "ERROR x: secret is [REDACTED]" in out.getvalue()


def test_an_unknown_log_format_is_refused() -> None:
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match="PHOTOSTREAM_LOG_FORMAT"):
        Settings.from_env({"PHOTOSTREAM_LOG_FORMAT": "xml"})


def test_a_coordinator_not_elected_at_start_is_info_saying_so(json_log) -> None:
    out, _ = json_log
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    coordinator.error("Group Coordinator Request failed: %s", KafkaConnectionError())
    expected, other = lines(out)
    assert expected["level"] == "INFO" and "not elected yet" in str(expected["message"])
    assert other["level"] == "ERROR" and "KafkaConnectionError" in str(other["message"])


def test_a_coordinator_missing_long_after_start_stays_an_error(json_log) -> None:
    out, _ = json_log
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    (late,) = [f for f in coordinator.filters if isinstance(f, CoordinatorNotElectedYet)]
    late.started -= STARTUP_GRACE_S
    coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    (line,) = lines(out)
    assert line["level"] == "ERROR" and "GroupCoordinatorNotAvailableError" in str(line["message"])
