"""Settings come from the environment, with host lists and errors that name the variable."""

from __future__ import annotations

import pytest

from infra.settings import Settings, SettingsError


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
])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_token_lifetime_settings_are_read_and_the_ttl_must_fit_the_maximum() -> None:
    auth = Settings.from_env({"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS": "3600",
                              "PHOTOSTREAM_TOKEN_TTL_SECONDS": "600",
                              "PHOTOSTREAM_IDENTITY_CACHE_SECONDS": "5"}).auth
    assert (auth.max_token_lifetime_seconds, auth.token_ttl_seconds,
            auth.identity_cache_seconds) == (3600, 600, 5)
    with pytest.raises(SettingsError, match="PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS"):
        Settings.from_env({"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS": "60"})
