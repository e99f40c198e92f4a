"""Pure ``@username`` parsing for mentions (no I/O, unit tested on its own).

Parsed once, when the caption's or comment's event is processed (never at read time),
with the same alphabet as usernames (:data:`schemas.common.Username`: ``[a-z0-9._]``,
at most 30). Typed case does not matter (``@Alice`` is ``alice``); an ``@`` glued to a
word (``me@example.com``) is not a mention; a trailing dot ends the sentence, not the
name. Only the first ``cap`` distinct names count: a caption cannot page a crowd.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._]{1,30})(?![A-Za-z0-9_@])")


def mentioned_usernames(text: str, cap: int) -> list[str]:
    """The distinct usernames ``@mentioned`` in ``text``, in order, at most ``cap``."""
    found: list[str] = []
    if cap <= 0:
        return found
    for match in _MENTION.finditer(text):
        name = match.group(1).lower().rstrip(".")
        if name and name not in found:
            found.append(name)
            if len(found) >= cap:
                break
    return found
