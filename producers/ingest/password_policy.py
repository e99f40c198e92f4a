"""What makes a password acceptable: long enough, not absurdly long, not a common one.

Length is what counts (NIST SP 800-63B): at least :data:`MIN_LENGTH` characters, no
composition rules. At most :data:`MAX_LENGTH`, checked *before* hashing, so nobody can
make us hash a megabyte (argon2 hashes any length, but the request would still be
read, normalised and held in memory for nothing). A small built-in list of the most
common passwords long enough to pass the length rule is refused by a set lookup --
the ones a guessing attack tries first; a breached-password service would be the
thorough check, at the price of a network call on every sign-up.

Passwords are NFKC-normalised (as RFC 8265 suggests) before both the check and the hash,
so the same password typed on two keyboards that compose accents differently still matches.
"""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 10
MAX_LENGTH = 128

#: Frequent entries of public breach corpora with 10 or more characters (shorter ones
#: fail the length rule anyway), lower-cased: the check is case-insensitive.
_COMMON_TEXT = """
1234567890 0123456789 12345678910 1234567891 123456789a a123456789 qwertyuiop
1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc qazwsxedcrfv zaq12wsxcde password12 password123
password1234 passw0rd123 iloveyou12 iloveyou123 qwerty1234 qwerty12345 qwerty123456
qwertyuiop1 asdfghjkl1 asdfghjkl; 1234qwerty 12345qwert 123qweasdzxc abc1234567
abcdefghij abcd123456 11111111111 1111111111 0000000000 2222222222 9876543210
0987654321 1234512345 1231231231 1234554321 5555555555 7777777777 8888888888
9999999999 1122334455 1029384756 123456789q 123456789z football12 football123
baseball12 basketball superman12 princess12 sunshine12 starwars12 welcome123
welcome1234 letmein123 trustno1234 monkey1234 dragon1234 master1234 changeme123
administrator admin12345 admin123456 password! password!! p@ssw0rd12 p@ssword123
photostream photostream1 photostream123 mypassword mypassword1 thisisapassword
00000000000 123123123123 q1w2e3r4t5 q1w2e3r4t5y6 zxcvbnm123 zxcvbnmasd
lovelove12 computer12 internet12 michael123 jennifer12 jordan2323 liverpool1
chelsea123 arsenal123 whatever12 qwerty123! 1234567890a 1234567890q
"""
COMMON = frozenset(_COMMON_TEXT.split())


class PasswordError(ValueError):
    """A password we refuse; the message says why (never echoing the password)."""


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_length(password: str) -> None:
    """Only the length rules: what a sign-in also checks, before any hashing."""
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")


def check_new_password(password: str, *, username: str = "", email: str = "") -> str:
    """The normalised ``password`` if it may be set; PasswordError saying why otherwise.

    Besides length and the common list, a password equal to the account's own username
    or email (any case) is refused: it is the first thing anyone would try.
    """
    if len(password) > MAX_LENGTH:  # before normalising: NFKC can grow a string
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")
    normal = normalise_password(password)
    check_length(normal)
    folded = normal.casefold()
    if folded in COMMON:
        raise PasswordError("this password is one of the most common ones; choose another")
    if folded in {username.casefold(), email.casefold()} - {""}:
        raise PasswordError("a password may not be the account's username or email")
    return normal
