"""Upload claims in Cassandra's ``upload_requests``: idempotency keys and presigned uploads.

Idempotency: a retried ``POST /v1/media`` with the same ``Idempotency-Key`` must get the
same photo id and create nothing new, even when the two requests hit different ingest
replicas at the same time. The key is claimed with a lightweight transaction (``INSERT
... IF NOT EXISTS``, Paxos: exactly one request wins) that stores the photo id *before*
any work is done, so every later attempt reuses that id, and with it the deterministic
object key and event id: redoing the work is harmless.

Who does the work: ``created_at`` doubles as a *lease*: the time the current attempt
took the claim. A duplicate that finds the claim held and not committed waits for the
holder; if the holder failed (it releases the lease) or crashed (the lease runs out
after ``lease_seconds``), the duplicate takes the lease over with a conditional
``UPDATE ... IF created_at = <old>`` (again exactly one winner) and completes the work.
"Finished" is the ``committed`` flag, set once the upload's event is acknowledged. On
take-over the photo row is asked first: a photo already processed means the flag's
write was lost (the upload is done); a photo whose upload was *aborted* (its attempt
answered an error and tombstoned it) is dead for good, so the take-over moves the claim
to a fresh photo id.

Presigned uploads: ``presign:<photo_id>`` under the uploader's ``owner_id`` proves, at
commit time, that this user was handed that photo id; nobody else can commit it.
Client idempotency keys are stored as ``idem:<key>`` so the two can never collide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from infra.connect.cassandra import execute
from producers.ingest.photos import RowState
from sinks.statements import QUORUM

RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
"""Lease value meaning "nobody is working on this claim": anyone may take it over."""


def _now_ms() -> datetime:
    """Now, truncated to Cassandra's timestamp precision, so an ``IF created_at = ?``
    with a value we wrote compares equal."""
    ms = time.time_ns() // 1_000_000
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _aware(value: datetime | None) -> datetime | None:
    """The driver returns naive UTC datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def idempotency_claim(key: str) -> str:
    return f"idem:{key}"


def presign_claim(photo_id: int) -> str:
    return f"presign:{photo_id}"


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`Claims.acquire`.

    ``lease`` is set when this request must do the work (and later release or finish);
    None when an earlier attempt already finished it and ``photo_id`` is the answer.
    """

    photo_id: int
    lease: datetime | None

    @property
    def done(self) -> bool:
        return self.lease is None


class Claims:
    """Reads and writes ``upload_requests`` (prepared statements, async via the bridge)."""

    def __init__(
        self,
        session: Session,
        statements: dict[str, PreparedStatement],
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.session = session
        self._st = statements
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds

    @classmethod
    async def create(cls, session: Session, **options: Any) -> Claims:
        """Prepare the statements once (blocking driver call, so off the event loop)."""
        texts = {
            "claim": "INSERT INTO upload_requests (owner_id, idempotency_key, photo_id, "
                     "created_at) VALUES (?, ?, ?, ?) IF NOT EXISTS",
            "take": "UPDATE upload_requests SET created_at = ?, photo_id = ? "
                    "WHERE owner_id = ? AND idempotency_key = ? IF created_at = ?",
            "release": "UPDATE upload_requests SET created_at = ? "
                       "WHERE owner_id = ? AND idempotency_key = ? IF created_at = ?",
            "commit": "UPDATE upload_requests SET committed = true "
                      "WHERE owner_id = ? AND idempotency_key = ?",
            "put": "INSERT INTO upload_requests (owner_id, idempotency_key, photo_id, "
                   "created_at) VALUES (?, ?, ?, ?)",
            "get": "SELECT photo_id, committed FROM upload_requests "
                   "WHERE owner_id = ? AND idempotency_key = ?",
        }

        def prepare() -> dict[str, PreparedStatement]:
            prepared = {name: session.prepare(text) for name, text in texts.items()}
            for name in ("put", "get", "commit"):
                prepared[name].consistency_level = QUORUM
            return prepared

        return cls(session, await asyncio.to_thread(prepare), **options)

    async def acquire(
        self,
        owner_id: int,
        key: str,
        new_photo_id: Callable[[], Awaitable[int]],
        state: Callable[[int], Awaitable[RowState]],
    ) -> Claim:
        """Claim ``key`` for ``owner_id``, or join the attempt that already did.

        Returns a lease to do the work (with a fresh id from ``new_photo_id`` or the id
        the key already holds), or ``done`` once the key's upload is committed. Waits
        at most about one lease period for a live holder.
        """
        name = idempotency_claim(key)
        candidate = await new_photo_id()
        while True:
            now = _now_ms()
            (row,) = await execute(
                self.session, self._st["claim"], (owner_id, name, candidate, now)
            )
            if row["[applied]"]:
                return Claim(candidate, now)
            photo_id: int = row["photo_id"]
            if row["committed"]:
                return Claim(photo_id, None)
            held_since = _aware(row["created_at"])
            if held_since is None or held_since + self.lease <= now:
                found = await state(photo_id)
                if found.processed:
                    return Claim(photo_id, None)
                if found.aborted:
                    photo_id = candidate
                (taken,) = await execute(self.session, self._st["take"],
                                         (now, photo_id, owner_id, name, row["created_at"]))
                if taken["[applied]"]:
                    return Claim(photo_id, now)
                continue  # somebody else took it over first: look again
            await asyncio.sleep(self.poll_seconds)

    async def release(self, owner_id: int, key: str, lease: datetime) -> None:
        """Give up a lease after a failed attempt, so a retry need not wait it out."""
        await execute(self.session, self._st["release"],
                      (RELEASED, owner_id, idempotency_claim(key), lease))

    async def commit(self, owner_id: int, key: str) -> None:
        """Mark the idempotency key's upload committed (its event is acknowledged)."""
        await execute(self.session, self._st["commit"], (owner_id, idempotency_claim(key)))

    async def commit_presigned(self, owner_id: int, photo_id: int) -> None:
        """Mark a direct upload committed, so committing it again answers at once."""
        await execute(self.session, self._st["commit"], (owner_id, presign_claim(photo_id)))

    async def register_presigned(self, owner_id: int, photo_id: int) -> None:
        """Remember that ``owner_id`` was handed ``photo_id`` for a direct upload."""
        await execute(
            self.session, self._st["put"], (owner_id, presign_claim(photo_id), photo_id, _now_ms())
        )

    async def presigned(self, owner_id: int, photo_id: int) -> bool | None:
        """Whether ``owner_id`` started the direct upload of ``photo_id``: None if not
        (or it expired with the table's TTL), else whether it is committed already."""
        rows = await execute(self.session, self._st["get"], (owner_id, presign_claim(photo_id)))
        if not rows or rows[0]["photo_id"] != photo_id:
            return None
        return bool(rows[0]["committed"])
