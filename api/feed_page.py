"""The warm home-feed page as response bytes: two Redis round trips, cards assembled from
pre-serialised parts, and an ETag known before any card is built; and, the same way, the
"new posts since" check, a single photo's card and a profile (one round trip each,
mostly).

The general path (:class:`api.feed.FeedReader` + :class:`api.cards.Cards` behind FastAPI)
stays the reference and the fallback: this one serves only the case that dominates, a
reader whose caches are warm, and hands every other case back (returns None) so the
general path answers it with the same result. It never decides visibility by itself:
the feed's membership test is :func:`api.feed.in_feed` and every card passes
:func:`api.visibility.can_view_photo`, exactly as on the general path.

Handed back: a page holding an album (its cover card needs the items' rows), a cluster
Redis (:mod:`sinks.feed_reads` needs one server), a cache entry missing that decides the
page (the timeline, the following list, a pulled author's recent photos: the general
path rebuilds or fills them), the hourly activity write, a page that needs more
candidates than one round gave, or a timeline that may continue in Cassandra past its
cap. Missing card parts (a photo row, profile, counts, the likes window) are filled here
through :class:`api.views.Views` and the page still served. """

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass
from functools import lru_cache

import orjson
from redis.asyncio.cluster import RedisCluster

from api import cursors
from api.feed import SLACK, FeedReader, in_feed
from api.profiles import image_urls, known_follow_state, profile_document
from api.service import ReadService
from api.views import RECENT_WINDOW, Json
from api.views import decoded as _json
from api.visibility import can_view_photo, feed_authors
from infra.connect.redis import Lane
from infra.http.auth import TokenClaims, TokenError
from sinks import photos
from sinks.blocks import Relations
from sinks.feed_reads import FeedReads, PageIds, PageParts
from sinks.identity import decode as decode_identity
from sinks.identity import refusal
from sinks.reader_activity import ACTIVITY_GRANULARITY

#: Newest candidates a "new posts since" check looks at (a visible one among them is news).
NEW_POSTS_WINDOW = 5


@lru_cache(maxsize=4_096)
def _following(raw: bytes) -> frozenset[int]:
    """A cached following list as a set, built once per distinct list (up to ~800 ids for
    the heaviest readers: rebuilding it was a visible share of a page)."""
    return frozenset(_json(raw))


@lru_cache(maxsize=16_384)
def _relations(raw: bytes) -> Relations:
    """A reader's blocks and mutes from their cached bytes (parsed once per value)."""
    return Relations.from_json(raw)


@dataclass(frozen=True)
class Page:
    """A rendered page: its validator and its JSON (empty when ``If-None-Match`` matched:
    answer 304, no card was built)."""

    etag: str
    body: bytes


class FeedPages:
    """The fast path of ``GET /v1/feed`` (chronological) for one process."""

    def __init__(self, service: ReadService) -> None:
        self.svc = service
        self.feed: FeedReader = service.feed
        self.enabled = not isinstance(service.redis, RedisCluster)
        self.lane = Lane.for_reader(service.settings)
        self.reads = FeedReads(self.lane, service.redis, service.feed.hot,
                               service.identities.kind)

    async def close(self) -> None:
        await self.lane.aclose()

    async def has_new(self, token: str, since: int) -> bool | None:
        """Whether the token's user has a visible feed post newer than ``since``, or None
        (ask the general path). The common answer, "no", is one round trip; a "yes"
        checks the newer candidates' cards like a page does (a second one)."""
        claims = self.svc.identities.tokens.verify(token)
        viewer = claims.user_id
        ids = await self.reads.page_ids(viewer, NEW_POSTS_WINDOW, None,
                                        await self.feed.pull_author_list())
        await self._check_identity(ids.identity, claims)
        candidates = self._candidates(ids, NEW_POSTS_WINDOW, None)
        if candidates is None or ids.following is None or ids.relations is None:
            return None
        newer = [pid for pid in candidates if pid > since]
        if not newer:
            return False
        following = _following(ids.following)
        relations = _relations(ids.relations)
        authors = feed_authors(viewer, following, relations)
        parts = await self.reads.page_parts(viewer, newer)
        views = self.svc.views
        missing = [pid for pid, raw in zip(newer, parts.rows, strict=True) if raw is None]
        filled = await views.photos(missing) if missing else {}
        for pid, row_raw, profile_raw in zip(newer, parts.rows, parts.profiles, strict=True):
            row = _json(row_raw) if row_raw is not None else filled.get(pid)
            if row is None or not in_feed(row, authors):
                continue
            profile = (_json(profile_raw) if profile_raw is not None
                       else (await views.profiles([row["owner"]])).get(row["owner"]))
            if can_view_photo(viewer, row, profile, following, relations):
                return True
        return False

    async def photo(self, token: str, photo_id: int) -> bytes | None:
        """The card of one photo, in one round trip, or None: the general path answers
        (a missing cache entry, and every 404: it words them)."""
        claims = self.svc.identities.tokens.verify(token)
        viewer = claims.user_id
        parts = await self.reads.page_parts(viewer, [photo_id], viewer=True)
        await self._check_identity(parts.identity, claims)
        row_raw, profile_raw, count_raw = parts.rows[0], parts.profiles[0], parts.counts[0]
        if (row_raw is None or profile_raw is None or count_raw is None
                or parts.following is None or parts.liked is None or parts.relations is None):
            return None
        row, profile = _json(row_raw), _json(profile_raw)
        if not can_view_photo(viewer, row, profile, _following(parts.following),
                              _relations(parts.relations)):
            return None
        if row.get("items"):
            return None  # an album: its items are the general path's
        liked = await self.svc.views.liked_in(viewer, [photo_id], parts.liked)
        likes, comments = _json(count_raw)
        return self.svc.cards.card_bytes(row_raw, row, profile_raw, profile,
                                         (int(likes), int(comments)), photo_id in liked,
                                         viewer, time.time())

    async def profile(self, token: str, user_id: int) -> bytes | None:
        """The Profile document of ``user_id`` for the token's user, in one round trip,
        or None: the general path answers (a missing cache entry, a 404, and a private
        account the reader does not follow: only Cassandra knows a pending request)."""
        claims = self.svc.identities.tokens.verify(token)
        viewer = claims.user_id
        parts = await self.reads.profile_parts(viewer, user_id)
        await self._check_identity(parts.identity, claims)
        if (parts.profile is None or parts.counts is None or parts.following is None
                or parts.relations is None):
            return None
        profile, following = _json(parts.profile), _following(parts.following)
        state = known_follow_state(viewer, user_id, profile, following)
        if state is None:
            return None
        return orjson.dumps(profile_document(
            viewer, profile, _json(parts.counts), state, following,
            _relations(parts.relations), image_urls(profile, self.svc.urls, time.time())))

    async def _check_identity(self, cached: bytes | None, claims: TokenClaims) -> None:
        """TokenError unless the token's user (its cached identity read in the same round
        trip) still accepts it."""
        identity = (decode_identity(cached) if cached is not None
                    else await self.svc.identities.get(claims.user_id))
        reason = refusal(identity, claims.issued_at, claims.session_id)
        if reason is not None:
            raise TokenError(reason)

    async def render(self, token: str, limit: int, before: int | None,
                     if_none_match: str | None = None) -> Page | None:
        """The page of the token's user, or None: serve it the general way.

        TokenError (401) for a token that is bad or that its user no longer accepts.
        """
        claims = self.svc.identities.tokens.verify(token)
        viewer = claims.user_id
        want = limit + SLACK
        ids = await self.reads.page_ids(viewer, want, before,
                                        await self.feed.pull_author_list())
        await self._check_identity(ids.identity, claims)
        candidates = self._candidates(ids, want, before)
        if candidates is None or ids.following is None or ids.relations is None:
            return None
        following = _following(ids.following)
        relations = _relations(ids.relations)
        parts = await self.reads.page_parts(viewer, candidates)
        return await self._page(viewer, limit, candidates, len(candidates) < want,
                                following, relations, parts, if_none_match)

    def _candidates(self, ids: PageIds, want: int, before: int | None) -> list[int] | None:
        """The newest ``want`` ids over the timeline page and the pulled authors; None
        when the general path must decide (module docstring)."""
        now = time.time()
        if not ids.timeline_exists or ids.last_active is None:
            return None
        last_active = float(ids.last_active)
        if (now - last_active >= ACTIVITY_GRANULARITY.total_seconds()
                or self.feed.timelines.is_inactive(last_active, now)):
            return None  # the hourly activity write (or a rebuild) is the general path's
        pushed = list(struct.unpack(f">{len(ids.pushed) // 8}Q", ids.pushed))
        if len(pushed) < want and ids.timeline_size >= self.feed.hot.cap:
            return None  # the durable timeline may continue past the hot one's cap
        found = set(pushed)
        for raw in ids.pulled.values():
            if raw is None:
                return None
            newest: list[int] = _json(raw)
            older = [pid for pid in newest if before is None or pid < before]
            if len(older) < want and len(newest) >= RECENT_WINDOW:
                return None  # deeper than the cached window: Cassandra
            found.update(older[:want])
        return sorted(found, reverse=True)[:want]

    async def _page(self, viewer: int, limit: int, candidates: list[int], exhausted: bool,
                    following: frozenset[int], relations: Relations, parts: PageParts,
                    if_none_match: str | None) -> Page | None:
        views = self.svc.views
        rows_raw = dict(zip(candidates, parts.rows, strict=True))
        missing = [pid for pid, raw in rows_raw.items() if raw is None]
        filled: dict[int, Json] = await views.photos(missing) if missing else {}
        authors = feed_authors(viewer, following, relations)
        shown: list[tuple[int, Json, bytes | None, bytes | None, bytes | None]] = []
        deleted: list[int] = []
        last_seen = None
        for pid, row_raw, profile_raw, count_raw in zip(candidates, parts.rows, parts.profiles,
                                                        parts.counts, strict=True):
            row = _json(row_raw) if row_raw is not None else filled.get(pid)
            if row is None:
                continue
            if in_feed(row, authors):
                if row.get("items"):
                    return None  # an album: its cover's parts are the general path's
                if len(shown) < limit:
                    shown.append((pid, row, row_raw, profile_raw, count_raw))
                    last_seen = pid
            elif row["status"] == photos.STATUS_DELETED:
                deleted.append(pid)
        if len(shown) < limit and not exhausted:
            return None  # filtered too many: the general path takes more rounds
        if deleted:
            await self.feed.forget_deleted(viewer, deleted)
        # As on the general path: a full page always has a next cursor, a short one none.
        cursor = cursors.encode("feed", b=last_seen) if len(shown) >= limit else None
        return await self._render(viewer, shown, following, relations, parts, cursor,
                                  if_none_match)

    async def _render(self, viewer: int, shown: list[tuple[int, Json, bytes | None,
                                                           bytes | None, bytes | None]],
                      following: frozenset[int], relations: Relations, parts: PageParts,
                      cursor: str | None, if_none_match: str | None) -> Page:
        views, cards = self.svc.views, self.svc.cards
        page_ids = [pid for pid, *_ in shown]
        profiles_missing = [row["owner"] for _, row, _, raw, _ in shown if raw is None]
        counts_missing = [pid for pid, _, _, _, raw in shown if raw is None]
        profiles = await views.profiles(profiles_missing) if profiles_missing else {}
        counts = await views.engagement(counts_missing) if counts_missing else {}
        liked = (await views.liked_in(viewer, page_ids, parts.liked) if parts.liked is not None
                 else await views.liked_by(viewer, page_ids))
        now = time.time()
        digest = hashlib.blake2b(digest_size=16)
        digest.update(b"%d %d %s " % (viewer, cards.urls.window(now), (cursor or "").encode()))
        entries = []
        for pid, row, row_raw, profile_raw, count_raw in shown:
            profile = _json(profile_raw) if profile_raw is not None else profiles.get(row["owner"])
            if profile is None or not can_view_photo(viewer, row, profile, following,
                                                     relations):
                continue
            count = (tuple(_json(count_raw)) if count_raw is not None
                     else counts.get(pid, (0, 0)))
            row_bytes = row_raw if row_raw is not None else orjson.dumps(row)
            profile_bytes = profile_raw if profile_raw is not None else orjson.dumps(profile)
            is_liked = pid in liked
            for part in (row_bytes, profile_bytes, b"%d %d %d" % (count[0], count[1], is_liked)):
                digest.update(part)
            entries.append((row_bytes, row, profile_bytes, profile, count, is_liked))
        etag = f'"{digest.hexdigest()}"'
        if if_none_match is not None and etag in if_none_match:
            return Page(etag, b"")
        body = b",".join(cards.card_bytes(rb, r, pb, p, (int(c[0]), int(c[1])), lk, viewer, now)
                         for rb, r, pb, p, c, lk in entries)
        tail = orjson.dumps(cursor)
        return Page(etag, b'{"items":[' + body + b'],"next_cursor":' + tail + b"}")
