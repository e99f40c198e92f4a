"""Process-wide logging: human text or JSON lines, with context and without secrets.

``PHOTOSTREAM_LOG_FORMAT=json`` makes every line one JSON object a log shipper can index:
``timestamp`` (UTC, ISO 8601), ``level``, ``service``, ``logger``, ``message``, plus the
fields that apply where the line was logged: ``event_id``, ``event_type``, ``photo_id``,
``user_id``, ``topic``, ``partition``, ``offset``, ``processor``. Code sets those once per
unit of work with :func:`log_context` (contextvars, so concurrent asyncio tasks keep
their own) or per call with ``extra=``.

No secret is ever written: every line, text or JSON, passes :func:`redact`, which
removes the configured secrets (JWT signing key, object-store secret, Cassandra password),
anything shaped like a JWT, bearer credentials and presigned-URL signatures. Secrets
reach logs through exception messages and reprs more often than through deliberate
logging, so the filter is on the output, not on the call sites.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from aiokafka.errors import GroupCoordinatorNotAvailableError

from infra.settings import Settings

#: Fields copied from ``extra=`` / :func:`log_context` into JSON lines (and nothing else:
#: a stray ``extra`` never leaks an object's repr).
CONTEXT_FIELDS = ("service", "processor", "event_id", "event_type", "photo_id", "user_id",
                  "topic", "partition", "offset", "route", "request_id")
REDACTED = "[REDACTED]"

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "photostream_log_context", default={})  # noqa: B039 - never mutated, only replaced

_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:x-amz-signature|x-amz-credential|signature|password|secret|token)"
               r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+"),
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` (None values skipped) to every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items()
                                               if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class Redactor:
    """Replaces known secret values and secret-shaped strings with ``[REDACTED]``."""

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret containing another is removed whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
            escaped = orjson.dumps(secret).decode()[1:-1]
            if escaped != secret and escaped in text:
                text = text.replace(escaped, REDACTED)
        text = _PATTERNS[0].sub(REDACTED, text)
        for pattern in _PATTERNS[1:]:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


def secrets_of(settings: Settings) -> list[str]:
    """The configured secrets (the S3 access key is an identifier, not one)."""
    return [settings.auth.jwt_secret, settings.s3.secret_key, settings.cassandra.password]


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for the fields)."""

    def __init__(self, redact: Redactor, service: str) -> None:
        super().__init__()
        self.redact = redact
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for source in (_context.get(), record.__dict__):
            line.update({k: source[k] for k in CONTEXT_FIELDS if source.get(k) is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return self.redact(orjson.dumps(line, default=str).decode())


NOISY = {"cassandra": logging.WARNING, "aiokafka": logging.WARNING, "httpx": logging.WARNING,
         "httpcore": logging.WARNING,
         # Cassandra 5 warns on every statement prepared on a keyspace-bound session; all
         # our tables live in the one configured keyspace, so there is no ambiguity.
         "cassandra.protocol": logging.ERROR}


class CoordinatorNotElectedYet(logging.Filter):
    """aiokafka's ERROR "Group Coordinator Request failed: GroupCoordinatorNotAvailableError",
    logged as what it is at start: a consumer group whose coordinator is still being chosen.

    On a fresh broker every group asks before Kafka has created ``__consumer_offsets`` and
    elected its leaders (``make demo`` printed it once per processor); aiokafka retries by
    itself and the group forms a moment later. An ERROR there sends people hunting for a
    failure that is not one, so within :data:`STARTUP_GRACE_S` of start the record becomes
    INFO saying so. Later it stays an ERROR: a coordinator that goes missing under a running
    processor is worth one.
    """

    MESSAGE = "Group Coordinator Request failed: %s"
    LOGGER = "aiokafka.consumer.group_coordinator"

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.msg == self.MESSAGE and isinstance(record.args, tuple) and record.args
                and isinstance(record.args[0], GroupCoordinatorNotAvailableError)
                and time.monotonic() - self.started < STARTUP_GRACE_S):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = ("consumer group coordinator not elected yet (expected while the "
                          "groups form at start); aiokafka retries")
            record.args = ()
        return True


#: How long after start a missing group coordinator is expected (a fresh single broker
#: creates ``__consumer_offsets`` and elects its partition leaders in a few seconds).
STARTUP_GRACE_S = 120.0


def configure(settings: Settings, service: str, stream: TextIO | None = None) -> logging.Handler:
    """Install the one root handler for this process (replacing any earlier one)."""
    redact = Redactor(secrets_of(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact, service) if settings.log_format == "json"
                         else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name, level in NOISY.items():
        logging.getLogger(name).setLevel(level)
    coordinator = logging.getLogger(CoordinatorNotElectedYet.LOGGER)
    for old_filter in [f for f in coordinator.filters if isinstance(f, CoordinatorNotElectedYet)]:
        coordinator.removeFilter(old_filter)
    coordinator.addFilter(CoordinatorNotElectedYet(started=time.monotonic()))
    return handler
