"""Ids for test data: fresh on every run, so reruns against the shared stack never meet
rows an earlier run left behind."""

from __future__ import annotations

import itertools
import random
import time

from schemas.ids import EPOCH_MS, make_id

_seq = itertools.count(random.randrange(1 << 20))


def random_id() -> int:
    """A fresh random 62-bit id (users, or any id whose order does not matter)."""
    return random.getrandbits(62)


def time_id() -> int:
    """A time-ordered id made now, strictly increasing within this run (photos, comments,
    stories): feeds and grids sort by it, and a photo id's time is its upload time.

    Sleeps 2 ms so the millisecond part moves on; the sequence part keeps two calls in
    one millisecond (a slow clock) apart as well.
    """
    time.sleep(0.002)
    return make_id(int(time.time() * 1000) - EPOCH_MS, random.randrange(8192),
                   next(_seq) % 1024)
