"""Pinned versions of every server the local stack runs: the one place to bump them.

``operate/docker-compose.yml`` names the same versions; keep the two in step.
"""

KAFKA_VERSION = "4.1.1"  # org.apache.kafka:kafka_2.13
CASSANDRA_VERSION = "5.0.6"  # org.apache.cassandra:cassandra-all
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"  # Go module proxy pseudo-version
REDIS_DEBIAN_PACKAGE = "redis-server"  # Debian bookworm: 7.0.x
