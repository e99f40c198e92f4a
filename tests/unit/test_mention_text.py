"""``@username`` parsing: what counts as a mention, case, duplicates and the cap."""

from __future__ import annotations

from datetime import UTC, datetime

from sinks.mention_text import mentioned_usernames
from sinks.notifications import entry_id


def test_mentions_are_usernames_after_a_free_standing_at() -> None:
    text = "hi @Alice, @bob.smith. mail me@example.com or @@x, @alice again (@c_d)"
    assert mentioned_usernames(text, 10) == ["alice", "bob.smith", "c_d"]


def test_mentions_are_capped_per_text() -> None:
    text = " ".join(f"@u{i}" for i in range(30))
    assert mentioned_usernames(text, 5) == [f"u{i}" for i in range(5)]
    assert mentioned_usernames(text, 0) == []


def test_entry_ids_are_deterministic_and_time_ordered() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert entry_id(early, "g:like:1:0") == entry_id(early, "g:like:1:0")
    assert entry_id(early, "g:like:1:0") != entry_id(early, "g:like:2:0")
    assert entry_id(early, "g:like:9:0") < entry_id(late, "g:like:1:0")
