"""The pure parts of Mastodon notifications and markers: which entries a filter keeps,
what a dismissal hides, group keys, a comment's reply Status, marker positions, the
stream's event framing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from producers.mastodon.errors import MastodonError
from producers.mastodon.inbox import Filter, Shown, pair
from producers.mastodon.markers import _positions
from producers.mastodon.notification_entities import group_key, reply
from producers.mastodon.streaming import _event, _order
from schemas.ids import min_id_for_time
from sinks import notifications as inbox
from sinks.notification_dismissals import Dismissals, changed_at
from sinks.notifications import Entry

AT = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)


def entry(kind: str, *, actors: tuple[int, ...] = (7,), at: datetime = AT,
          nid: int | None = None) -> Entry:
    return Entry(notification_id=nid or min_id_for_time(AT), type=kind,
                 actor_ids=list(actors), actor_count=len(actors), updated_at=at)


def test_filter_maps_types_and_never_shows_follow_accepted() -> None:
    everything = Filter()
    assert everything.admits(entry(inbox.LIKE)) and everything.admits(entry(inbox.COMMENT))
    assert not everything.admits(entry(inbox.FOLLOW_ACCEPTED))
    favourites = Filter(types=frozenset({"favourite"}))
    assert favourites.admits(entry(inbox.LIKE))
    assert not favourites.admits(entry(inbox.FOLLOW))
    no_mentions = Filter(exclude=frozenset({"mention"}))
    assert not no_mentions.admits(entry(inbox.COMMENT))
    assert not no_mentions.admits(entry(inbox.MENTION))
    assert no_mentions.admits(entry(inbox.FOLLOW_REQUEST))
    assert Filter(account_id=7).admits(entry(inbox.LIKE, actors=(9, 7)))
    assert not Filter(account_id=8).admits(entry(inbox.LIKE, actors=(9, 7)))
    assert not Filter(types=frozenset({"reblog"})).admits(entry(inbox.LIKE))


def test_a_dismissal_hides_the_entry_until_it_changes() -> None:
    seen = entry(inbox.LIKE)
    # Stored at Cassandra's millisecond precision; the hot copy keeps microseconds.
    hidden = Dismissals(seen={seen.notification_id: changed_at(seen)})
    assert hidden.hides(seen)
    assert not hidden.hides(entry(inbox.LIKE, at=AT + timedelta(seconds=1)))
    assert not hidden.hides(entry(inbox.LIKE, nid=seen.notification_id + 1))
    cleared = Dismissals(cleared_until=AT + timedelta(minutes=1))
    assert cleared.hides(seen)
    assert not cleared.hides(entry(inbox.FOLLOW, at=AT + timedelta(minutes=2)))
    assert not Filter(dismissals=hidden).admits(seen)


def test_group_keys_and_pairing() -> None:
    like, mention = entry(inbox.LIKE, nid=11), entry(inbox.MENTION, nid=12)
    shown = pair([like, mention], [{"id": "12"}])
    assert [one.entry for one in shown] == [mention]
    assert group_key(Shown(like, {})) == "favourite-11"
    assert group_key(Shown(mention, {})) == "ungrouped-12"


def test_a_comment_is_a_reply_status_to_its_post() -> None:
    post = {"id": "100", "url": "https://x/@ann/100", "account": {"id": "1"},
            "media_attachments": [{"id": "100"}], "favourites_count": 3,
            "visibility": "private", "sensitive": True}
    author = {"id": "2", "username": "bo"}
    status = reply(min_id_for_time(AT), "nice <b>#sky</b>", author, post, "https://x")
    assert status["in_reply_to_id"] == "100" and status["in_reply_to_account_id"] == "1"
    assert status["account"] is author and status["media_attachments"] == []
    assert status["visibility"] == "private"  # the post's
    assert "&lt;b&gt;" in status["content"] and status["tags"][0]["name"] == "sky"
    assert status["favourites_count"] == 0 and status["id"] != "100"


def test_marker_positions_from_json_or_form_and_bad_ids() -> None:
    assert _positions({"home": {"last_read_id": "5"}}) == {"home": 5}
    assert _positions({"notifications[last_read_id]": "7", "other": 1}) == {"notifications": 7}
    with pytest.raises(MastodonError) as refused:
        _positions({"home": {"last_read_id": "12ab"}})
    assert refused.value.status == 422
    with pytest.raises(MastodonError):
        _positions({"home[last_read_id]": "9" * 25})


def test_stream_events_carry_their_own_ids_in_stream_order() -> None:
    assert _event("delete", b"42", "17-3") == b"id: 17-3\nevent: delete\ndata: 42\n\n"
    assert sorted(["9-1", "10-0", "9-0"], key=_order) == ["9-0", "9-1", "10-0"]
