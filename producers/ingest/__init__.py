"""The ingest service (write side): uploads in, originals to MinIO, events to Kafka.

Run it with ``photostream ingest``; build the ASGI app with :func:`create_app`.
"""

from producers.ingest.app import create_app

__all__ = ["create_app"]
