"""The "top" feed's order: recency decay times engagement, as a pure function.

``score = (1 + likes + 2 * comments) / (age_hours + 2) ** GRAVITY`` — the gravity form
popularised by Hacker News: engagement lifts a photo, age pulls it down smoothly, and
the +2 hours keeps a brand-new photo with no likes from outranking everything. Comments
weigh double (they cost the viewer more than a tap). Ties go to the newer photo, so the
order is total and the same inputs always rank the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.ids import id_time

GRAVITY = 1.5


def score(photo_id: int, likes: int, comments: int, now: float) -> float:
    age_hours = max(0.0, now - id_time(photo_id).timestamp()) / 3600.0
    return (1 + likes + 2 * comments) / (age_hours + 2) ** GRAVITY


def rank(photo_ids: Sequence[int], counts: Mapping[int, tuple[int, int]],
         now: float) -> list[int]:
    """``photo_ids`` best first."""
    def key(pid: int) -> tuple[float, int]:
        likes, comments = counts.get(pid, (0, 0))
        return (score(pid, likes, comments, now), pid)
    return sorted(photo_ids, key=key, reverse=True)
