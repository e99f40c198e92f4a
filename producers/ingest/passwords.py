"""Password hashing: argon2id with parameters chosen for this box, at bounded concurrency.

Parameters: argon2id, memory 19 MiB (19 456 KiB), 2 passes, 1 lane -- the first of
OWASP's equivalent argon2id settings. Measured on this 2-core development box (shared
with Kafka, Cassandra and the other services), ``python -m bench.accounts``, same run:
one verify p50 34 ms / p99 40 ms, 48 verifies/s two at a time; argon2-cffi's defaults
(RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes) p50 188 ms / p99 337 ms,
6.4/s; a whole HTTP sign-in with ours p50 49 ms. (Under heavier load, ~60 ms against
~250 ms.) Why not the defaults: a sign-in costs one hash, and on two cores ~190 ms each
would cap the whole box at ~6 sign-ins/s while starving the pipeline. Why 1 lane: more
lanes only go faster with idle cores to run them, and ours are busy; one lane keeps
each hash on one core. The memory cost (19 MiB) is what
makes GPU/ASIC guessing expensive; the time is a fixed budget per attempt that the
rate limits (per account and per address) keep small. The parameters are stored in
every hash (``$argon2id$v=19$m=19456,t=2,p=1$...``), so raising them later only needs
:meth:`Hasher.needs_rehash` on the next successful sign-in.

Concurrency: at most ``slots`` hashes at once (default: the CPU count) run in threads
(argon2-cffi releases the GIL), so a burst of sign-ins queues here instead of
oversubscribing the cores; a request that cannot start within ``wait_seconds`` is
refused with 503 + Retry-After (overload), never left to time out.

Unknown users: :meth:`Hasher.verify_dummy` checks the password against a hash made at
start-up with the same parameters, so an unknown username costs the same time as a
wrong password and the answer's timing does not reveal which accounts exist.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from infra.http.problems import Problem

T = TypeVar("T")


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int = 2
    memory_kib: int = 19_456
    parallelism: int = 1

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib,
                              parallelism=self.parallelism, type=Type.ID)


#: The parameters new hashes get (see the module docstring for why).
CHOSEN = Argon2Parameters()
#: argon2-cffi's defaults (RFC 9106 low-memory), the benchmark's baseline.
LIBRARY_DEFAULT = Argon2Parameters(time_cost=3, memory_kib=65_536, parallelism=4)


def busy() -> Problem:
    return Problem(503, "overloaded", "too many sign-ins at once; try again shortly",
                   headers={"Retry-After": "1"})


class Hasher:
    """Hashes and verifies passwords off the event loop, ``slots`` at a time."""

    def __init__(self, parameters: Argon2Parameters = CHOSEN, *, slots: int | None = None,
                 wait_seconds: float = 5.0) -> None:
        self.parameters = parameters
        self._hasher = parameters.hasher()
        self._slots = asyncio.Semaphore(slots or os.cpu_count() or 1)
        self.wait_seconds = wait_seconds
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash`` (a malformed hash: no)."""
        return await self._run(self._matches, stored_hash, password)

    async def verify_dummy(self, password: str) -> bool:
        """Spend a verify's time for an unknown user; always False."""
        await self._run(self._matches, self._dummy, password)
        return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _matches(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
        except TimeoutError:
            raise busy() from None
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            self._slots.release()
