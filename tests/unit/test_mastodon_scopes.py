"""OAuth scopes of the Mastodon API (producers/mastodon/scopes.py) and its HTML content."""

from __future__ import annotations

import pytest

from producers.mastodon import scopes
from producers.mastodon.entities import content_html, tags
from producers.mastodon.oauth import csp


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


def _policy(path: str, query: bytes = b"") -> str:
    return csp({"type": "http", "path": path, "query_string": query})


def test_consent_page_may_post_to_itself_and_the_redirect_target_only() -> None:
    assert "form-action 'none'" in _policy("/v1/media")
    assert "form-action 'self' https://app.example" in _policy(
        "/oauth/authorize", b"redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1")
    assert _policy("/oauth/authorize", b"redirect_uri=com.example.app%3A%2F%2Fcb").endswith(
        "form-action 'self' com.example.app:")
    oob = _policy("/oauth/authorize", b"redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob")
    assert oob.endswith("form-action 'self'")
    hostile = _policy("/oauth/authorize",
                      b"redirect_uri=https%3A%2F%2Fa.example%3B%20script-src%20*%2Fx")
    assert "script-src" not in hostile and hostile.endswith("form-action 'self'")
