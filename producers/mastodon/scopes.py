"""OAuth scopes as Mastodon defines them: which granted scopes cover a required one.

``read`` covers every ``read:*``, ``write`` every ``write:*``; ``follow`` (deprecated in
Mastodon, still sent by clients) covers the follow, block and mute scopes both ways;
``push`` stands alone. A route states the narrow scope it needs (``write:statuses``) and
:func:`allows` answers for any token, whatever granularity it was granted.
"""

from __future__ import annotations

TOP = frozenset({"read", "write", "follow", "push", "profile"})
_FOLLOW = frozenset({"read:follows", "write:follows", "read:blocks", "write:blocks",
                     "read:mutes", "write:mutes"})
_PARTS = frozenset({"accounts", "blocks", "bookmarks", "favourites", "filters", "follows",
                    "lists", "mutes", "notifications", "search", "statuses", "media",
                    "conversations", "reports"})
KNOWN = TOP | frozenset(f"{side}:{part}" for side in ("read", "write") for part in _PARTS)


class ScopeError(ValueError):
    """A scope string names a scope that does not exist (OAuth ``invalid_scope``)."""


def parse(text: str | None, default: str = "read") -> frozenset[str]:
    """The scopes of a space- (or ``+``-) separated string; ``default`` when empty."""
    names = (text or "").replace("+", " ").split() or default.split()
    unknown = sorted(set(names) - KNOWN)
    if unknown:
        raise ScopeError(f"unknown scope: {', '.join(unknown)}")
    return frozenset(names)


def render(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


def allows(granted: frozenset[str], required: str) -> bool:
    """Whether a token granted ``granted`` may do what needs ``required``."""
    if required in granted:
        return True
    side, _, part = required.partition(":")
    if part and side in granted:
        return True
    return "follow" in granted and required in _FOLLOW


def within(requested: frozenset[str], registered: frozenset[str]) -> bool:
    """Whether every requested scope is covered by the app's registered scopes."""
    return all(allows(registered, scope) for scope in requested)
