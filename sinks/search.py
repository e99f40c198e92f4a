"""The search index: caption/title terms, hashtags and username prefixes.

Photos are indexed by *converging*: :func:`reindex_photo` reads the photo as stored now,
computes the rows it should have (none unless it is ready), deletes the rows recorded
in ``photo_search_terms`` that are no longer wanted, upserts the wanted ones and then
records them. Every caller (processed, caption edit, deletion) just calls it, so the
index is right after a crash, a redelivery or events handled out of order, and the old
caption need not be known. After writing it re-reads the photo and converges again
if it changed meanwhile (a deletion racing an edit), unless the caller hands it the row
it read after its own write: the metadata processor, the photo's single writer, whose
events of one photo are handled one at a time (the read it saves is the second read of
the row per processed photo).

Usernames: one ``users_by_prefix`` row per prefix, written ``USING TIMESTAMP`` of the
profile event like the profile itself (see :mod:`sinks.users`).
"""

from __future__ import annotations

from cassandra.cluster import Session

from infra.connect.cassandra import execute, execute_many
from sinks.photos import PhotoText, photo_text
from sinks.search_terms import (
    MAX_PREFIX,
    fold,
    hashtags,
    normalize,
    normalize_tag,
    terms,
    username_prefixes,
)
from sinks.statements import prepared

_INDEXED = "SELECT owner_id, terms, tags FROM photo_search_terms WHERE photo_id = ?"
_RECORD = "UPDATE photo_search_terms SET owner_id = ?, terms = ?, tags = ? WHERE photo_id = ?"
_TERM_ADD = "INSERT INTO photos_by_term (term, photo_id, owner_id) VALUES (?, ?, ?)"
_TERM_DEL = "DELETE FROM photos_by_term WHERE term = ? AND photo_id = ?"
_TAG_ADD = "INSERT INTO photos_by_hashtag (tag, photo_id, owner_id) VALUES (?, ?, ?)"
_TAG_DEL = "DELETE FROM photos_by_hashtag WHERE tag = ? AND photo_id = ?"
_BY_TERM = "SELECT photo_id FROM photos_by_term WHERE term = ? LIMIT ?"
_BY_TAG = "SELECT photo_id FROM photos_by_hashtag WHERE tag = ? LIMIT ?"
_BY_TAG_BEFORE = "SELECT photo_id FROM photos_by_hashtag WHERE tag = ? AND photo_id < ? LIMIT ?"
_PREFIX_ADD = (
    "INSERT INTO users_by_prefix (prefix, username, user_id) VALUES (?, ?, ?) USING TIMESTAMP ?"
)
_PREFIX_DEL = "DELETE FROM users_by_prefix USING TIMESTAMP ? WHERE prefix = ? AND username = ?"
_BY_PREFIX = "SELECT username, user_id FROM users_by_prefix WHERE prefix = ? LIMIT ?"

#: Re-convergence rounds before giving up (each round means the photo changed again).
_ROUNDS = 5

Wanted = tuple[int | None, frozenset[str], frozenset[str]]


async def reindex_photo(session: Session, photo_id: int,
                        stored: PhotoText | None = None) -> None:
    """Make the index rows of ``photo_id`` match its stored caption, title and status.

    ``stored``: the row as the caller read it after its own write (module doc); the
    index is then made to match it, with no read of the row here.
    """
    if stored is not None:
        await _apply(session, photo_id, _wanted_of(stored))
        return
    want = await _wanted(session, photo_id)
    for _ in range(_ROUNDS):
        await _apply(session, photo_id, want)
        again = await _wanted(session, photo_id)
        if again == want:
            return
        want = again
    raise TimeoutError(f"photo {photo_id} kept changing while being re-indexed")


async def photos_with_term(session: Session, word: str, limit: int = 50) -> list[int]:
    """Newest photos whose caption or title contains ``word`` (normalized like captions)."""
    found = normalize(word).split()
    if not found:
        return []
    statement = await prepared(session, _BY_TERM)
    rows = await execute(session, statement, (found[0], limit))
    return [row["photo_id"] for row in rows]


async def photos_with_hashtag(session: Session, tag: str, limit: int = 50,
                              before: int | None = None) -> list[int]:
    """Newest photos tagged ``tag`` ('#Sunset' and 'sunset' are the same tag);
    ``before``: older than this photo id (the last of the previous page)."""
    if before is None:
        statement = await prepared(session, _BY_TAG)
        rows = await execute(session, statement, (normalize_tag(tag), limit))
    else:
        statement = await prepared(session, _BY_TAG_BEFORE)
        rows = await execute(session, statement, (normalize_tag(tag), before, limit))
    return [row["photo_id"] for row in rows]


async def index_username(session: Session, user_id: int, username: str,
                         previous: str | None, at_micros: int) -> None:
    """Index ``username``'s prefixes (and drop ``previous``'s) as of the profile event."""
    if previous is not None and previous != username:
        drop = await prepared(session, _PREFIX_DEL)
        await execute_many(session, drop, [(at_micros, p, fold(previous))
                                           for p in username_prefixes(previous)])
    add = await prepared(session, _PREFIX_ADD)
    await execute_many(session, add, [(p, fold(username), user_id, at_micros)
                                      for p in username_prefixes(username)])


async def drop_username(session: Session, username: str, at_micros: int) -> None:
    """Take a deleted account's ``username`` out of user search, as of its deletion."""
    drop = await prepared(session, _PREFIX_DEL)
    await execute_many(session, drop, [(at_micros, p, fold(username))
                                       for p in username_prefixes(username)])


async def users_with_prefix(session: Session, prefix: str,
                            limit: int = 20) -> list[tuple[str, int]]:
    """(username, user_id) pairs whose username starts with ``prefix``, alphabetical."""
    wanted = fold(prefix.strip())
    if not wanted:
        return []
    statement = await prepared(session, _BY_PREFIX)
    if len(wanted) <= MAX_PREFIX:
        rows = await execute(session, statement, (wanted, limit))
        return [(row["username"], row["user_id"]) for row in rows]
    # Only 10-character prefixes are indexed: narrow with those, then filter.
    rows = await execute(session, statement, (wanted[:MAX_PREFIX], 5_000))
    return [(row["username"], row["user_id"]) for row in rows
            if row["username"].startswith(wanted)][:limit]


async def _wanted(session: Session, photo_id: int) -> Wanted:
    return _wanted_of(await photo_text(session, photo_id))


def _wanted_of(text: PhotoText | None) -> Wanted:
    if text is None or not text.ready:
        return (text.owner_id if text else None, frozenset(), frozenset())
    return (text.owner_id, frozenset(terms(text.caption, text.title)),
            frozenset(hashtags(text.caption, text.title)))


async def _apply(session: Session, photo_id: int, want: Wanted) -> None:
    owner_id, want_terms, want_tags = want
    indexed = await prepared(session, _INDEXED)
    rows = await execute(session, indexed, (photo_id,))
    have_terms = set(rows[0]["terms"] or ()) if rows else set()
    have_tags = set(rows[0]["tags"] or ()) if rows else set()
    term_del, tag_del = await prepared(session, _TERM_DEL), await prepared(session, _TAG_DEL)
    term_add, tag_add = await prepared(session, _TERM_ADD), await prepared(session, _TAG_ADD)
    await execute_many(session, term_del, [(t, photo_id) for t in have_terms - want_terms])
    await execute_many(session, tag_del, [(t, photo_id) for t in have_tags - want_tags])
    await execute_many(session, term_add, [(t, photo_id, owner_id) for t in want_terms])
    await execute_many(session, tag_add, [(t, photo_id, owner_id) for t in want_tags])
    record = await prepared(session, _RECORD)
    await execute(session, record, (owner_id, set(want_terms), set(want_tags), photo_id))
