"""A follows run reduces to each edge's and request's last state, by the one-event rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.follow_runs import DROP, REQUEST, REQUEST_UNLESS_EDGE, Facts, Follow, reduce_run
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from sinks import pair_reads

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def test_the_last_event_of_a_pair_wins_in_log_order_not_event_time() -> None:
    events: list[tuple[Follow, datetime]] = [(FollowApproved(follower_id=1, followee_id=9), at(5)),
              (FollowRemoved(follower_id=1, followee_id=9), at(1)),  # older clock, later in log
              (FollowRemoved(follower_id=2, followee_id=9), at(2)),
              (FollowApproved(follower_id=2, followee_id=9), at(3))]
    outcomes, newest = reduce_run(events, Facts())
    assert (outcomes[(1, 9)].edge, outcomes[(2, 9)].edge) == (False, True)
    assert outcomes[(2, 9)].since == at(3) and outcomes[(2, 9)].request == DROP
    assert newest == {9: int(at(5).timestamp() * 1_000_000)}


def test_requests_wait_for_private_accounts_unless_the_edge_is_there() -> None:
    facts = Facts(private={9})
    events: list[tuple[Follow, datetime]] = [(FollowRequested(follower_id=1, followee_id=9), at(1)),
              (FollowRemoved(follower_id=2, followee_id=9), at(1)),
              (FollowRequested(follower_id=2, followee_id=9), at(2)),
              (FollowApproved(follower_id=3, followee_id=9), at(1)),
              (FollowRequested(follower_id=3, followee_id=9), at(2)),
              (FollowRequested(follower_id=4, followee_id=8), at(1)),  # public
              (FollowRequested(follower_id=5, followee_id=9), at(1)),
              (FollowRejected(follower_id=5, followee_id=9), at(2))]
    out, _ = reduce_run(events, facts)
    assert (out[(1, 9)].request, out[(1, 9)].edge) == (REQUEST_UNLESS_EDGE, None)
    assert (out[(2, 9)].request, out[(2, 9)].edge) == (REQUEST, False)
    assert (out[(3, 9)].request, out[(3, 9)].edge) == (DROP, True)  # already following
    assert (out[(4, 8)].request, out[(4, 8)].edge) == (DROP, True)
    assert (out[(5, 9)].request, out[(5, 9)].edge) == (DROP, None)


def test_deleted_accounts_and_blocks_make_no_edge_and_drop_the_request() -> None:
    facts = Facts(deleted={7}, blocked={(2, 9)})
    events: list[tuple[Follow, datetime]] = [(FollowApproved(follower_id=7, followee_id=9), at(1)),
              (FollowRequested(follower_id=2, followee_id=9), at(1)),
              (FollowRemoved(follower_id=7, followee_id=8), at(1))]  # removals still apply
    out, _ = reduce_run(events, facts)
    assert (out[(7, 9)].edge, out[(7, 9)].request) == (None, DROP)
    assert (out[(2, 9)].edge, out[(2, 9)].request) == (None, DROP)
    assert out[(7, 8)].edge is False


def test_pair_reads_cover_every_pair_within_the_cell_budget() -> None:
    pairs = {(k, 1000 + k) for k in range(250)} | {(5, m) for m in range(230)}
    packs = pair_reads.pack(pairs, cells=100)
    covered = {(k, m) for keys, members in packs for k in keys for m in members}
    assert pairs <= covered
    assert all(len(keys) * len(members) <= 100 for keys, members in packs)
    assert len(packs) < 40  # not one read per pair
