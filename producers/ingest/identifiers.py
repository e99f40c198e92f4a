"""Usernames and email addresses as people type them, turned into the one form we store.

Usernames are normalised before they are checked: Unicode NFKC (compatibility forms such
as fullwidth letters (U+FF41...) or the Kelvin sign become plain letters), then casefold
(``Alice`` and ``ALICE`` are ``alice``). Only then is the alphabet checked, and it is
ASCII only: ``[a-z0-9_.]``, 3-30 characters. That refuses unicode look-alikes
(confusables: a Cyrillic a, U+0430, in an otherwise Latin name; a Greek omicron for an o) by
construction -- no confusables table to keep up to date, since nothing outside ASCII
survives -- while the look-alikes that NFKC does fold (fullwidth, ligatures, the long s)
collapse onto the name they imitate and so collide with it (409) instead of impersonating it.

Email addresses get a deliberately plain check (one ``@``, a non-empty local part without
spaces, a dotted domain of letters, digits and hyphens, RFC 5321 lengths): enough to catch
typos and junk with a precise 422; whether the mailbox exists only a sent mail can tell.
They are stored casefolded, so one mailbox cannot hold two accounts by changing case.
"""

from __future__ import annotations

import re
import unicodedata

USERNAME_MIN = 3
USERNAME_MAX = 30
EMAIL_MAX = 254
_USERNAME = re.compile(rf"[a-z0-9_.]{{{USERNAME_MIN},{USERNAME_MAX}}}")
_LOCAL = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class IdentifierError(ValueError):
    """A username or email we refuse; the message says why and is safe to show."""


def normalise_username(raw: str) -> str:
    """``raw`` in its stored form (NFKC, casefolded); IdentifierError if it is not a
    3-30 character name of a-z, 0-9, '_' and '.' after that."""
    name = unicodedata.normalize("NFKC", raw.strip()).casefold()
    if _USERNAME.fullmatch(name):
        return name
    if not name.isascii():
        raise IdentifierError(
            "only the letters a-z, digits, '_' and '.' are allowed (no look-alike characters "
            "from other alphabets)")
    raise IdentifierError(
        f"{USERNAME_MIN}-{USERNAME_MAX} characters of a-z, 0-9, '_' and '.'")


def normalise_email(raw: str) -> str:
    """``raw`` trimmed and casefolded; IdentifierError if it does not look like an address."""
    email = raw.strip().casefold()
    if len(email) > EMAIL_MAX:
        raise IdentifierError(f"an email address has at most {EMAIL_MAX} characters")
    local, at, domain = email.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or "@" in local:
        raise IdentifierError("not an email address (name@example.org)")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise IdentifierError("the part after '@' is not a domain name (example.org)")
    return email


def is_email(identifier: str) -> bool:
    """Whether a sign-in identifier names an email (it has an ``@``) rather than a username."""
    return "@" in identifier
