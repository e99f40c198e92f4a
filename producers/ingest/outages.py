"""The ingest service's 503s: Kafka, MinIO or Cassandra could not take a write.

Registered once as exception handlers by :func:`install`, so routes and use cases let
these errors rise instead of wrapping each call: nothing was accepted, the client retries
(with its ``Idempotency-Key``), and it is never a 500. Code that must act on a failure
before it is answered catches it and re-raises, and the handler answers after: an upload
aborts its maybe-published event and releases its claim (:mod:`producers.ingest.uploads`).
"""

from __future__ import annotations

from fastapi import FastAPI

from infra.connect.outages import CASSANDRA_FAILURES
from infra.connect.publisher import PublishError
from infra.http import problems
from infra.http.problems import Problem, unavailable
from producers.ingest.storage import StorageUnavailable

#: What ingest answers 503 for: the object store and the event log, as their wrappers
#: report them, and any failed Cassandra request.
BACKEND_ERRORS: tuple[type[Exception], ...] = (
    StorageUnavailable, PublishError, *CASSANDRA_FAILURES)


def backend_problem(exc: Exception) -> Problem:
    """The 503 answering one of :data:`BACKEND_ERRORS`, naming the backend that failed."""
    if isinstance(exc, StorageUnavailable):
        return unavailable(str(exc))
    if isinstance(exc, PublishError):
        return unavailable(f"event log: {exc}")
    return unavailable(f"database: {type(exc).__name__}: {exc}")


def install(app: FastAPI) -> None:
    """Answer :data:`BACKEND_ERRORS` raised anywhere below a route of ``app``."""
    problems.map_errors(app, BACKEND_ERRORS, backend_problem)
