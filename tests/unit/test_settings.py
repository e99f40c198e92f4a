"""Settings come from the environment, with host lists and errors that name the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.settings import Settings, SettingsError, get_settings


def test_defaults_point_at_the_local_stack() -> None:
    settings = Settings.from_env({})
    assert settings.kafka.bootstrap_servers == ("127.0.0.1:9092",)
    assert settings.cassandra.contact_points == ("127.0.0.1",)
    assert settings.redis.url == "redis://127.0.0.1:6379/0"


def test_host_lists_and_replication_factors_for_real_clusters() -> None:
    settings = Settings.from_env({
        "PHOTOSTREAM_KAFKA_BOOTSTRAP": "k1:9092, k2:9092,k3:9092",
        "PHOTOSTREAM_CASSANDRA_HOSTS": "c1,c2",
        "PHOTOSTREAM_KAFKA_REPLICATION_FACTOR": "3",
        "PHOTOSTREAM_CASSANDRA_REPLICATION_FACTOR": "3",
        "PHOTOSTREAM_REDIS_URL": "redis://r1:7000",
        "PHOTOSTREAM_REDIS_CLUSTER": "true",
    })
    assert settings.kafka.bootstrap_servers == ("k1:9092", "k2:9092", "k3:9092")
    assert settings.cassandra.contact_points == ("c1", "c2")
    assert settings.kafka.replication_factor == 3
    assert settings.cassandra.replication_factor == 3
    assert settings.redis.cluster is True


def test_a_port_setting_moves_the_default_endpoint() -> None:
    settings = Settings.from_env({"PHOTOSTREAM_KAFKA_PORT": "19092"})
    assert settings.kafka.bootstrap_servers == ("127.0.0.1:19092",)


@pytest.mark.parametrize(("name", "value"), [
    ("PHOTOSTREAM_KAFKA_PORT", "ninety"),
    ("PHOTOSTREAM_REDIS_CLUSTER", "maybe"),
    ("PHOTOSTREAM_KAFKA_BOOTSTRAP", " , "),
    ("PHOTOSTREAM_CASSANDRA_CONSISTENCY", "SOME"),
    ("PHOTOSTREAM_API_BACKEND_TIMEOUT_SECONDS", "soon"),
    ("PHOTOSTREAM_IDENTITY_CACHE_SECONDS", "0"),
])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_setting_reads_its_group_variable_or_the_name_it_was_given() -> None:
    settings = Settings.from_env({
        "PHOTOSTREAM_KAFKA_REQUEST_TIMEOUT_MS": "1500",  # group prefix + name
        "PHOTOSTREAM_API_RETRY_AFTER_SECONDS": "7",
        "PHOTOSTREAM_JWT_SECRET": "s" * 40,  # a group without prefix
        "PHOTOSTREAM_MAX_UPLOAD_BYTES": "1024",  # names of their own
        "PHOTOSTREAM_TIMELINE_CAP": "50",
        "PHOTOSTREAM_CASSANDRA_LOCAL_DC": "eu-west",
        "PHOTOSTREAM_MEDIA_URL_TTL_SECONDS": "60",
        "PHOTOSTREAM_CORS_ORIGINS": "https://a.example, https://b.example",
        "PHOTOSTREAM_CACHE_DIR": "~/downloads",
    })
    assert settings.kafka.request_timeout_ms == 1500
    assert settings.api.retry_after_seconds == 7
    assert settings.auth.jwt_secret == "s" * 40
    assert settings.ingest.max_upload_bytes == 1024
    assert settings.timelines.redis_cap == 50
    assert settings.cassandra.local_datacenter == "eu-west"
    assert settings.api.media_url_ttl_seconds == 60
    assert settings.web_origins == ("https://a.example", "https://b.example")
    assert settings.stack.cache_dir == Path.home() / "downloads"


def test_names_are_normalised_and_an_empty_variable_is_unset() -> None:
    settings = Settings.from_env({
        "PHOTOSTREAM_CASSANDRA_CONSISTENCY": "quorum",
        "PHOTOSTREAM_LOG_FORMAT": "JSON",
        "PHOTOSTREAM_ENV": "Production",
        "PHOTOSTREAM_KAFKA_PORT": "",
        "PHOTOSTREAM_S3_ENDPOINT": "",
    })
    assert settings.cassandra.consistency == "QUORUM"
    assert settings.log_format == "json"
    assert settings.env == "production" and not settings.dev
    assert settings.stack.kafka_port == 9092
    assert settings.s3.endpoint == "127.0.0.1:9000"


def test_settings_are_frozen_and_cached() -> None:
    settings = get_settings()
    assert get_settings() is settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.kafka.client_id = "other"  # type: ignore[misc]


def test_token_lifetime_settings_are_read_and_the_ttl_must_fit_the_maximum() -> None:
    auth = Settings.from_env({"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS": "3600",
                              "PHOTOSTREAM_TOKEN_TTL_SECONDS": "600",
                              "PHOTOSTREAM_IDENTITY_CACHE_SECONDS": "5"}).auth
    assert (auth.max_token_lifetime_seconds, auth.token_ttl_seconds,
            auth.identity_cache_seconds) == (3600, 600, 5)
    with pytest.raises(SettingsError, match="PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS"):
        Settings.from_env({"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS": "60"})
