"""OAuth scopes of the Mastodon API (producers/mastodon/scopes.py) and its HTML content."""

from __future__ import annotations

import pytest

from producers.mastodon import scopes
from producers.mastodon.entities import content_html, tags


def test_top_scopes_cover_their_parts() -> None:
    assert scopes.allows(frozenset({"read"}), "read:statuses")
    assert scopes.allows(frozenset({"write"}), "write:media")
    assert scopes.allows(frozenset({"follow"}), "write:follows")
    assert scopes.allows(frozenset({"read:statuses"}), "read:statuses")


def test_read_does_not_cover_write_and_parts_do_not_cover_siblings() -> None:
    assert not scopes.allows(frozenset({"read"}), "write:statuses")
    assert not scopes.allows(frozenset({"read:accounts"}), "read:statuses")
    assert not scopes.allows(frozenset({"push"}), "read:statuses")
    assert not scopes.allows(frozenset({"follow"}), "write:statuses")


def test_parse_defaults_and_refuses_unknown_scopes() -> None:
    assert scopes.parse("") == frozenset({"read"})
    assert scopes.parse("read+write follow") == frozenset({"read", "write", "follow"})
    with pytest.raises(scopes.ScopeError):
        scopes.parse("read admin:write")
    assert scopes.within(frozenset({"read:statuses"}), frozenset({"read", "write"}))
    assert not scopes.within(frozenset({"write"}), frozenset({"read"}))


def test_content_is_escaped_html_with_hashtag_links() -> None:
    html = content_html("<script>x</script> at the #Beach\nline two", "https://p.test")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://p.test/tags/beach" class="mention hashtag" rel="tag">' in html
    assert html.startswith("<p>") and "<br>" in html
    assert tags("#a #A #b", "https://p.test") == [
        {"name": "a", "url": "https://p.test/tags/a"},
        {"name": "b", "url": "https://p.test/tags/b"}]
