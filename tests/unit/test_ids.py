"""Time-ordered ids: layout, uniqueness under concurrency, and waiting instead of reusing."""

from __future__ import annotations

import asyncio
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ids import (
    EPOCH,
    EPOCH_MS,
    MAX_TIME_MS,
    SHARDS,
    IdGenerator,
    id_ms,
    id_sequence,
    id_shard,
    id_time,
    id_worker,
    make_id,
    max_id_for_time,
    min_id_for_time,
    shard_for_user,
)

T0 = EPOCH_MS + 86_400_000 * 500  # some day in 2025


class FakeClock:
    """A millisecond clock that only moves when told to, or when someone sleeps on it."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now = now_ms
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += max(1, math.ceil(seconds * 1000))

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def fake_generator(worker_id: int = 0, worker_bits: int = 4, clock: FakeClock | None = None):
    clock = clock or FakeClock()
    gen = IdGenerator(worker_id, worker_bits=worker_bits, clock=clock, sleep=clock.sleep,
                      async_sleep=clock.async_sleep)  # fmt: skip
    return gen, clock


def test_epoch_constant_matches_epoch_datetime():
    assert int(EPOCH.timestamp() * 1000) == EPOCH_MS


@given(st.integers(0, MAX_TIME_MS), st.integers(0, SHARDS - 1), st.integers(0, 1023))
def test_layout_parts_are_recoverable(ms, shard, seq):
    i = make_id(ms, shard, seq)
    assert (id_ms(i), id_shard(i), id_sequence(i)) == (ms, shard, seq)
    assert 0 <= i < 2**63  # fits a signed bigint
    assert id_time(i) == EPOCH + timedelta(milliseconds=ms)


@given(st.integers(0, 2**63 - 1))
def test_shard_recoverable_from_generated_id(user_id):
    gen, clock = fake_generator()
    i = gen.next_id(user_id)
    assert id_shard(i) == shard_for_user(user_id) == user_id % 8192
    assert id_ms(i) == clock.now - EPOCH_MS
    assert gen.next_id(shard_for_user(user_id)) >> 10 == i >> 10  # a shard is its own shard


def test_ids_from_the_real_clock_increase_and_carry_the_time():
    gen = IdGenerator(0)
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    ids = [gen.next_id(42) for _ in range(5000)]
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert before <= id_time(ids[0]) <= id_time(ids[-1]) <= after


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(-30, 30), st.integers(1, 150), st.integers(0, SHARDS - 1)),
        min_size=1,
        max_size=12,
    )
)
def test_unique_and_time_ordered_whatever_the_clock_does(steps):
    """Clock jumps (also backwards) and bursts: never a duplicate, never back in time."""
    gen, clock = fake_generator()
    made: list[int] = []
    for jump, count, shard in steps:
        clock.now += jump
        made.extend(gen.next_id(shard) for _ in range(count))
    assert len(set(made)) == len(made)
    times = [id_ms(i) for i in made]
    assert times == sorted(times)
    # within one shard, creation order is id order
    for shard in {s for _, _, s in steps}:
        mine = [i for i in made if id_shard(i) == shard]
        assert mine == sorted(mine)


def test_backward_clock_waits_until_it_has_caught_up():
    gen, clock = fake_generator()
    first = gen.next_id(1)
    clock.now -= 50
    second = gen.next_id(1)
    assert clock.sleeps == [0.05]
    assert second > first and id_ms(second) == id_ms(first)
    assert clock.now == T0  # it waited exactly back to the last used millisecond


def test_sequence_exhaustion_waits_for_the_next_millisecond():
    gen, clock = fake_generator(worker_bits=4)
    assert gen.ids_per_ms == 64
    burst = [gen.next_id(7) for _ in range(64)]
    assert clock.sleeps == []
    assert {id_ms(i) for i in burst} == {T0 - EPOCH_MS}
    nxt = gen.next_id(7)
    assert clock.sleeps == [0.001]
    assert id_ms(nxt) == T0 - EPOCH_MS + 1 and nxt > burst[-1]


def test_worker_bits_zero_gives_the_full_sequence_space():
    gen, clock = fake_generator(worker_bits=0)
    ids = [gen.next_id(3) for _ in range(1024)]
    assert clock.sleeps == [] and len(set(ids)) == 1024
    gen.next_id(3)
    assert len(clock.sleeps) == 1


@given(st.integers(1, 6), st.data())
def test_distinct_workers_never_collide_on_a_shared_clock(worker_bits, data):
    """Two processes, same millisecond, same shard: the worker bits keep them apart."""
    a_id, b_id = data.draw(
        st.lists(st.integers(0, 2**worker_bits - 1), min_size=2, max_size=2, unique=True)
    )
    clock = FakeClock()
    a, _ = fake_generator(a_id, worker_bits, clock)
    b, _ = fake_generator(b_id, worker_bits, clock)
    n = data.draw(st.integers(1, 300))
    ids_a = [a.next_id(5) for _ in range(n)]
    ids_b = [b.next_id(5) for _ in range(n)]
    assert not set(ids_a) & set(ids_b)
    assert {id_worker(i, worker_bits) for i in ids_a} == {a_id}
    assert {id_worker(i, worker_bits) for i in ids_b} == {b_id}


@settings(max_examples=10, deadline=None)
@given(threads=st.integers(2, 8), per_thread=st.integers(100, 2000))
def test_unique_under_thread_concurrency(threads, per_thread):
    gen = IdGenerator(1)
    results: list[list[int]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def work(slot: int) -> None:
        start.wait()
        results[slot].extend(gen.next_id(slot % 3) for _ in range(per_thread))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    every = [i for r in results for i in r]
    assert len(every) == len(set(every)) == threads * per_thread
    for r in results:  # each thread sees its own ids in time order
        assert [id_ms(i) for i in r] == sorted(id_ms(i) for i in r)


def test_async_generation_waits_without_blocking_sleep():
    gen, clock = fake_generator(worker_bits=4)

    def forbidden(_: float) -> None:
        raise AssertionError("anext_id must not call the blocking sleep")

    gen._sleep = forbidden

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(gen.anext_id(9) for _ in range(200))))

    ids = asyncio.run(burst())
    assert len(set(ids)) == 200
    assert len(clock.sleeps) == 3  # 200 ids at 64 per ms: three waits


def test_time_range_bounds():
    gen, clock = fake_generator()
    at = EPOCH + timedelta(milliseconds=clock.now - EPOCH_MS)
    i = gen.next_id(8191)
    assert min_id_for_time(at) <= i <= max_id_for_time(at)
    assert max_id_for_time(at - timedelta(milliseconds=1)) < i
    assert min_id_for_time(at + timedelta(milliseconds=1)) > i
    assert min_id_for_time(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert max_id_for_time(datetime(2000, 1, 1, tzinfo=UTC)) < 0
    with pytest.raises(ValueError, match="naive"):
        min_id_for_time(datetime(2025, 1, 1))


def test_refuses_clocks_outside_the_id_range():
    with pytest.raises(OverflowError):
        fake_generator(clock=FakeClock(EPOCH_MS - 1))[0].next_id(1)
    with pytest.raises(OverflowError):
        fake_generator(clock=FakeClock(EPOCH_MS + MAX_TIME_MS + 1))[0].next_id(1)


@pytest.mark.parametrize(("worker_id", "worker_bits"), [(16, 4), (-1, 4), (0, 10), (1, 0)])
def test_bad_worker_configuration(worker_id, worker_bits):
    with pytest.raises(ValueError):
        IdGenerator(worker_id, worker_bits=worker_bits)


def test_negative_user_is_rejected():
    with pytest.raises(ValueError):
        shard_for_user(-1)
    with pytest.raises(ValueError):
        IdGenerator(0).next_id(-5)
