"""A follows partition's run reduced to what it changes: edges, requests, in log order.

The graph processor is the single writer of its followees' ``followers`` rows and
``follow_requests`` (the follows topic is keyed by followee), so it may apply a whole
run at once (:mod:`sinks.owned_edges`): each edge ends in the state of its last event,
each request likewise. What the events mean depends on facts read once per run (who is
deleted, which pairs are blocked, which followees are private): the same rules as one
event at a time (:mod:`processors.graph`):

* a request or approval involving a deleted account, or across a block, makes no edge
  and drops the request;
* a request to a private (or unknown) account waits in ``follow_requests``, unless the
  edge exists already; to a public one it is an edge at once;
* an approval is an edge; a rejection drops the request; a removal drops both.

Pure: the reads and writes are the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from processors.runtime import Message
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from sinks.statements import micros

Pair = tuple[int, int]
"""(follower_id, followee_id)"""

Follow = FollowRequested | FollowApproved | FollowRejected | FollowRemoved

#: What a run does to a pending request: record it, record it only if the edge does not
#: exist (a request whose edge the run did not touch), or forget it.
REQUEST, REQUEST_UNLESS_EDGE, DROP = "request", "request-unless-edge", "drop"


@dataclass
class PairOutcome:
    """The state one pair ends the run in (None: the run leaves that part alone)."""

    edge: bool | None = None
    since: datetime | None = None
    request: str | None = None
    requested_at: datetime | None = None


@dataclass
class Facts:
    """What decides an event's meaning, read once for the whole run."""

    deleted: set[int] = field(default_factory=set)
    blocked: set[Pair] = field(default_factory=set)
    """Pairs (follower, followee) with a block either way."""
    private: set[int] = field(default_factory=set)


def follows(messages: Sequence[Message]) -> list[tuple[Follow, datetime]]:
    """The follow events of a run with their times, in log order."""
    return [(m.event.payload, m.event.occurred_at) for m in messages
            if isinstance(m.event.payload, Follow)]


def reduce_run(events: Sequence[tuple[Follow, datetime]], facts: Facts
               ) -> tuple[dict[Pair, PairOutcome], dict[int, int]]:
    """Each touched pair's outcome, and the newest event time (us) of each followee."""
    outcomes: dict[Pair, PairOutcome] = {}
    newest: dict[int, int] = {}
    for p, at in events:
        pair = (p.follower_id, p.followee_id)
        out = outcomes.setdefault(pair, PairOutcome())
        newest[p.followee_id] = max(newest.get(p.followee_id, 0), micros(at))
        making = isinstance(p, FollowRequested | FollowApproved)
        if making and (p.follower_id in facts.deleted or p.followee_id in facts.deleted
                       or pair in facts.blocked):
            out.request = DROP
        elif isinstance(p, FollowRequested) and p.followee_id in facts.private:
            _request(out, at)
        elif making:
            out.edge, out.since, out.request = True, at, DROP
        elif isinstance(p, FollowRejected):
            out.request = DROP
        else:
            out.edge, out.since, out.request = False, None, DROP
    return outcomes, newest


def _request(out: PairOutcome, at: datetime) -> None:
    """A request to a private account: pending unless the edge exists at that point."""
    if out.edge is None:
        out.request, out.requested_at = REQUEST_UNLESS_EDGE, at
    elif not out.edge:
        out.request, out.requested_at = REQUEST, at
