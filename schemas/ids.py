"""64-bit time-sortable ids (photos, comments, stories...), generated without coordination.

Layout, most significant first::

    | 41 bits: ms since 2024-01-01T00:00:00Z | 13 bits: logical shard | 10 bits: sequence |

* Sorting ids sorts by creation time (to the millisecond), so timelines can use the id
  as their score and Cassandra clustering on the id is chronological; time ranges map to
  id ranges (:func:`min_id_for_time`, :func:`max_id_for_time`).
* The shard is the owner's ``user_id % 8192``: anything holding an id knows which
  logical shard the owner's data lives in without a lookup.
* The 10 sequence bits are ``worker_id`` (high ``worker_bits`` bits) followed by a
  per-millisecond counter (the rest).

Uniqueness: within one :class:`IdGenerator` the (millisecond, counter) pair never repeats:
if the counter runs out inside a millisecond, or the clock steps backwards, the
generator WAITS until its clock passes the last millisecond it used. Across processes,
uniqueness comes from the worker bits: every live generator must have a distinct
``worker_id`` (``0 <= worker_id < 2**worker_bits``), e.g. the ordinal of the ingest
replica. With the default 4 worker bits that is 16 concurrent generators of 64 ids per
millisecond each (per process, whatever the shard: 64k ids/s). Deployments needing
more generators trade counter bits for worker bits; all generators must agree on
``worker_bits``. A restarted process may reuse its worker_id as long as the wall clock
has not stepped back past the old process's last millisecond (restarts take far longer
than any NTP slew).

The top bit of the time field would make ids negative in a signed 64-bit column
(Cassandra ``bigint``, Java ``long``), so generation stops with OverflowError in
2058-11; that is the migration deadline of this scheme.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH_MS = 1_704_067_200_000
TIME_BITS = 41
SHARD_BITS = 13
SEQUENCE_BITS = 10
SHARDS = 1 << SHARD_BITS
DEFAULT_WORKER_BITS = 4

_SHARD_SHIFT = SEQUENCE_BITS
_TIME_SHIFT = SEQUENCE_BITS + SHARD_BITS
MAX_TIME_MS = (1 << (TIME_BITS - 1)) - 1
"""Last usable ms: beyond it ids would not fit a signed 64-bit integer."""

_ONE_MS = timedelta(milliseconds=1)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def shard_for_user(user_id: int) -> int:
    """The logical shard of a user's data (and of ids of things that user owns)."""
    if user_id < 0:
        raise ValueError(f"user id must be non-negative, got {user_id}")
    return user_id % SHARDS


def make_id(ms_since_epoch: int, shard: int, sequence: int) -> int:
    """Assemble an id from its parts (validated); mostly for tests and range queries."""
    if not 0 <= ms_since_epoch <= MAX_TIME_MS:
        raise OverflowError(f"time {ms_since_epoch} ms is outside the id epoch range")
    if not 0 <= shard < SHARDS:
        raise ValueError(f"shard must be in [0, {SHARDS}), got {shard}")
    if not 0 <= sequence < 1 << SEQUENCE_BITS:
        raise ValueError(f"sequence must be in [0, {1 << SEQUENCE_BITS}), got {sequence}")
    return (ms_since_epoch << _TIME_SHIFT) | (shard << _SHARD_SHIFT) | sequence


def id_ms(id_: int) -> int:
    """Milliseconds since :data:`EPOCH` at which ``id_`` was made."""
    return id_ >> _TIME_SHIFT


def id_time(id_: int) -> datetime:
    """When ``id_`` was made (UTC, millisecond precision)."""
    return EPOCH + timedelta(milliseconds=id_ >> _TIME_SHIFT)


def id_shard(id_: int) -> int:
    """The logical shard encoded in ``id_`` (the owner's ``user_id % 8192``)."""
    return (id_ >> _SHARD_SHIFT) & (SHARDS - 1)


def id_sequence(id_: int) -> int:
    """The 10 sequence bits of ``id_`` (worker id and per-ms counter together)."""
    return id_ & ((1 << SEQUENCE_BITS) - 1)


def id_worker(id_: int, worker_bits: int = DEFAULT_WORKER_BITS) -> int:
    """The id of the generator that made ``id_`` (given the deployment's worker_bits)."""
    return id_sequence(id_) >> (SEQUENCE_BITS - worker_bits)


def _ms_since_epoch(moment: datetime) -> int:
    if moment.utcoffset() is None:
        raise ValueError("naive datetime: attach a timezone (UTC)")
    return (moment - EPOCH) // _ONE_MS


def min_id_for_time(moment: datetime) -> int:
    """The smallest id made at or after ``moment``: ``WHERE id >= min_id_for_time(t)``.

    Moments before the epoch give 0 (every id is later).
    """
    ms = _ms_since_epoch(moment)
    if ms > MAX_TIME_MS:
        raise OverflowError(f"{moment} is past the last time ids can encode")
    return max(ms, 0) << _TIME_SHIFT


def max_id_for_time(moment: datetime) -> int:
    """The largest id made in ``moment``'s millisecond or earlier: ``WHERE id <= ...``.

    Moments before the epoch give -1 (no id qualifies).
    """
    ms = _ms_since_epoch(moment)
    if ms > MAX_TIME_MS:
        raise OverflowError(f"{moment} is past the last time ids can encode")
    return ((ms + 1) << _TIME_SHIFT) - 1


class IdGenerator:
    """Makes unique, time-ordered ids for one process (thread-safe, asyncio-friendly).

    ``clock`` returns Unix time in integer milliseconds and ``sleep``/``async_sleep``
    wait a number of seconds; all three are injectable so tests can drive a fake clock.
    The lock is only held to reserve an id, never while waiting, so :meth:`anext_id` can
    be awaited from the event loop without blocking it.
    """

    def __init__(
        self,
        worker_id: int,
        *,
        worker_bits: int = DEFAULT_WORKER_BITS,
        clock: Callable[[], int] = _wall_clock_ms,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 <= worker_bits < SEQUENCE_BITS:
            raise ValueError(f"worker_bits must be in [0, {SEQUENCE_BITS}), got {worker_bits}")
        if not 0 <= worker_id < 1 << worker_bits:
            raise ValueError(f"worker_id must be in [0, {1 << worker_bits}), got {worker_id}")
        self.worker_id = worker_id
        self.worker_bits = worker_bits
        counter_bits = SEQUENCE_BITS - worker_bits
        self._counter_limit = 1 << counter_bits
        self._worker_part = worker_id << counter_bits
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    @property
    def ids_per_ms(self) -> int:
        """How many ids this generator can make in one millisecond before it waits."""
        return self._counter_limit

    def next_id(self, shard_or_user: int) -> int:
        """A new id in the shard of ``shard_or_user`` (a user id or a shard: ``% 8192``).

        Blocks the calling thread for as long as the clock needs to pass the last used
        millisecond (about 1 ms on counter exhaustion; the full step on a backward clock).
        """
        shard = shard_for_user(shard_or_user)
        while True:
            new_id, wait = self._reserve(shard)
            if wait <= 0:
                return new_id
            self._sleep(wait)

    async def anext_id(self, shard_or_user: int) -> int:
        """Like :meth:`next_id`, but waits with ``await`` so the event loop keeps running."""
        shard = shard_for_user(shard_or_user)
        while True:
            new_id, wait = self._reserve(shard)
            if wait <= 0:
                return new_id
            await self._async_sleep(wait)

    def _reserve(self, shard: int) -> tuple[int, float]:
        """Under the lock: ``(id, 0)``, or ``(0, seconds)`` to wait before trying again."""
        with self._lock:
            ms = self._clock() - EPOCH_MS
            if not 0 <= ms <= MAX_TIME_MS:
                raise OverflowError(f"clock at {ms} ms since 2024-01-01: outside the id range")
            if ms < self._last_ms:
                return 0, (self._last_ms - ms) / 1000
            if ms == self._last_ms:
                if self._counter >= self._counter_limit:
                    return 0, 0.001
            else:
                self._last_ms = ms
                self._counter = 0
            sequence = self._worker_part | self._counter
            self._counter += 1
            return (ms << _TIME_SHIFT) | (shard << _SHARD_SHIFT) | sequence, 0.0
