"""Operator tooling over Kafka: topics vs the catalogue, consumer lag, dead letters, resets.

Library modules (async, typed) that the thin ``photostream topics`` / ``photostream
deadletters`` commands print; tests call them directly against the real stack.
Everything goes through ``infra.connect.kafka``, the one place that knows how we talk
to brokers.
"""

from __future__ import annotations

from operate.stack.base import StackError


class OpsError(StackError):
    """An operator-facing refusal or failure; ``str()`` is one line saying what and how.

    A ``StackError`` so the CLI's existing handler prints it as one line and exits 1.
    """
