"""Pure text normalization for the search index (no I/O, unit tested on its own).

Why these rules: a query must find a caption however either side was typed, so both
go through the same steps: NFKC (full-width and compatibility forms fold to their
plain letters, ligatures split), casefold (stronger than lower: 'Straße' == 'strasse'),
apostrophes dropped ("don't" -> "dont"), every other punctuation or symbol character
becomes a word break. Hashtags keep letters, digits and '_' after '#'.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest term or tag kept (longer words are noise, and bound the index row size).
MAX_TERM_CHARS = 64
#: At most this many terms per photo (a 2200-character caption cannot flood the index).
MAX_TERMS = 200
#: Username prefixes are indexed up to this length; longer queries filter the results.
MAX_PREFIX = 10

# Apostrophes join ("don't" -> "dont"); emoji variation selectors are invisible: dropped.
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc" + "".join(map(chr, range(0xFE00, 0xFE10))))
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def fold(text: str) -> str:
    """NFKC + casefold (+ NFKC again: casefolding can leave non-normalized text)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def normalize(text: str) -> str:
    """``text`` folded, punctuation and symbols turned into single spaces, trimmed."""
    folded = fold(text).translate(_APOSTROPHES)
    chars = [" " if unicodedata.category(c)[0] in "PSZC" else c for c in folded]
    return " ".join("".join(chars).split())


def terms(*texts: str) -> set[str]:
    """The distinct search terms of ``texts`` (caption, title...), hashtag words included."""
    found: list[str] = []
    for text in texts:
        found.extend(t for t in normalize(text).split()
                     if len(t) <= MAX_TERM_CHARS and _has_word_char(t))
    return set(list(dict.fromkeys(found))[:MAX_TERMS])


def _has_word_char(token: str) -> bool:
    """False for tokens of only combining marks (an emoji's variation selector, say)."""
    return any(unicodedata.category(c)[0] in "LN" for c in token)


def hashtags(*texts: str) -> set[str]:
    """The distinct hashtags (without '#', folded) in ``texts``."""
    tags: list[str] = []
    for text in texts:
        tags.extend(m for m in _HASHTAG.findall(fold(text).translate(_APOSTROPHES))
                    if len(m) <= MAX_TERM_CHARS)
    return set(list(dict.fromkeys(tags))[:MAX_TERMS])


def normalize_tag(tag: str) -> str:
    """A hashtag as typed in a query ('#Sunset', 'sunset') in its indexed form."""
    return fold(tag.strip()).lstrip("#")


def username_prefixes(username: str) -> list[str]:
    """Prefixes of length 1..min(len, MAX_PREFIX) under which ``username`` is found."""
    name = fold(username)
    return [name[:i] for i in range(1, min(len(name), MAX_PREFIX) + 1)]
