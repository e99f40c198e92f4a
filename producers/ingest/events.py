"""Turning a request into one published event: validate, publish, translate failures.

Every write endpoint ends here, so the two failure modes look the same everywhere: a
value that breaks the event schema is a 422 naming the request field it came from
(validated in :func:`schemas.envelope.make`, before anything is sent), and a broker or
database that does not answer is a 503 (via :mod:`producers.ingest.outages`).
"""

from __future__ import annotations

from typing import TypeVar

from infra.connect.publisher import Publisher
from infra.http.problems import Problem
from schemas.envelope import Event, InvalidEvent, make
from schemas.payload import Payload

PRODUCER = "ingest"
P = TypeVar("P", bound=Payload)


def invalid(location: str, message: str) -> Problem:
    """A 422 shaped like FastAPI's own validation errors (``errors[].location``)."""
    return Problem(422, "validation-error", f"{location}: {message}",
                   extra={"errors": [{"location": location, "message": message}]})


def event(payload: P, *, event_id: str | None = None) -> Event[P]:
    """``payload`` in a validated envelope; a schema violation is a 422 naming the field.

    Payload fields come from the request body (path ids are range-checked by FastAPI
    before we get here), so ``payload.text`` is reported as ``body.text``.
    """
    try:
        return make(payload, producer=PRODUCER, event_id=event_id)
    except InvalidEvent as exc:
        field = (exc.field or "").removeprefix("payload.")
        raise invalid(f"body.{field}" if field else "body", exc.reason) from None


class Emitter:
    """Validates and publishes one event per write (acks=all before we answer)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def emit(self, payload: P, *, event_id: str | None = None) -> Event[P]:
        built = event(payload, event_id=event_id)
        await self.publisher.publish(built)
        return built
