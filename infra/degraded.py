"""The record, per request, of the backends an answer had to be served without.

A read that survives an outage (a cache read that went to Cassandra because Redis is
down, a feed whose older half could not be read because Cassandra is) calls
:func:`survived` where it catches the error; the read API's middleware
(:mod:`api.failsafe`) turns the record into the ``X-Photostream-Degraded`` header and
a metric. Reads deep in :mod:`sinks` and :mod:`api` need not pass a flag up through
every return value, and outside a request (processors, tests) noting is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from infra.connect.outages import unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A mutable set per request: tasks spawned by ``asyncio.gather`` copy the context,
#: so they share the set rather than a copy of the variable.
_current: ContextVar[set[str] | None] = ContextVar("photostream_degraded", default=None)


@contextlib.contextmanager
def scope() -> Iterator[set[str]]:
    """Collect what is noted inside the block (one request)."""
    noted: set[str] = set()
    token = _current.set(noted)
    try:
        yield noted
    finally:
        _current.reset(token)


def note(backend: str) -> None:
    """The answer being built is missing what ``backend`` would have given."""
    noted = _current.get()
    if noted is not None:
        noted.add(backend)


def survived(exc: BaseException, *backends: str) -> bool:
    """True (and noted) when ``exc`` says one of ``backends`` is unreachable: the caller
    goes on without it. False for anything else, which the caller re-raises."""
    backend = unreachable(exc)
    if backend is None or backend not in backends:
        return False
    log.debug("serving without %s: %s: %s", backend, type(exc).__name__, exc)
    note(backend)
    return True


async def or_else(primary: Awaitable[T], backend: str,
                  fallback: Callable[[], Awaitable[T]]) -> T:
    """``primary``'s result; if ``backend`` turns out unreachable, ``fallback()``'s."""
    try:
        return await primary
    except Exception as exc:
        if not survived(exc, backend):
            raise
    return await fallback()
