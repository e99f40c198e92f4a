"""The read model the API answers from: Cassandra rows behind Redis read-through caches.

Each accessor takes many ids at once (a feed page is one call per kind, not one per
photo) and returns plain dicts decoded from the cached JSON. Which processor event
invalidates which entry is listed in :mod:`sinks.cache`; this module only reads and
fills. Nothing here decides visibility: :mod:`api.visibility` does, from these values.

Redis unreachable: the cached accessors read Cassandra directly (:mod:`sinks.cache`);
the views that live only in Redis (trending tags, popular photos, who has a live
story) read as empty, noted with :mod:`infra.degraded` so the answer is flagged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from cassandra.cluster import Session

from infra import degraded
from infra.connect.outages import REDIS
from infra.connect.redis import RedisClient
from sinks import blocks, cache, engagement, graph, photos, trending, users
from sinks.blocks import Relations

#: Newest photos of an author kept in the RECENT cache (deeper pages read Cassandra).
RECENT_WINDOW = 200
#: Newest likes of a reader kept for ``liked_by_me``; older photos get a point read.
LIKED_WINDOW = 1_000
#: Cassandra reads in flight when a cache miss spans many users (woken live streams).
_LOAD_CONCURRENCY = 32

Json = dict[str, Any]


@dataclass(frozen=True)
class Liked:
    """The newest photos a user likes: exact for photo ids >= ``floor``."""

    ids: frozenset[int]
    floor: int  # 0 when the window holds every like


def _photo_json(p: photos.Photo) -> bytes:
    return orjson.dumps({
        "id": p.photo_id, "owner": p.owner_id, "status": p.status, "kind": p.media_kind,
        "w": p.width, "h": p.height, "color": p.dominant_color, "blurhash": p.blurhash,
        "caption": p.caption, "title": p.title, "location": p.location,
        "failure": p.failure_reason, "dur": p.duration_ms,
        "d": [[d["name"], d["key"], d["width"], d["height"]] for d in p.derivatives],
        "items": p.items, "detached": p.detached, "alt": p.alt_text,
        "sensitive": p.sensitive, "cw": p.content_warning,
    })


def _profile_json(u: users.User) -> bytes:
    return orjson.dumps({"id": u.user_id, "username": u.username,
                         "display_name": u.display_name, "bio": u.bio, "private": u.private,
                         "avatar": u.avatar_id, "header": u.header_id})


class Views:
    """Batched, cached reads for one process (holds no state of its own)."""

    def __init__(self, session: Session, redis: RedisClient) -> None:
        self.session = session
        self.redis = redis

    async def photos(self, ids: Sequence[int]) -> dict[int, Json]:
        """Photo rows by id (unknown ids absent): status, owner, sizes, derivatives."""
        async def load(missing: list[int]) -> Mapping[int, bytes]:
            rows = await photos.get_photos(self.session, missing)
            return {pid: _photo_json(p) for pid, p in rows.items() if p.owner_id is not None}
        return _decode(await cache.get_many(self.redis, cache.PHOTO, ids, load))

    async def recent(self, author_ids: Sequence[int], limit: int,
                     before: int | None) -> list[list[int]]:
        """Each author's newest ready photo ids older than ``before``, newest first."""
        async def load(missing: list[int]) -> Mapping[int, bytes]:
            lists = await asyncio.gather(*(photos.recent_photos(self.session, uid,
                                                                limit=RECENT_WINDOW)
                                           for uid in missing))
            return {uid: orjson.dumps(ids) for uid, ids in zip(missing, lists, strict=True)}
        found = await cache.get_many(self.redis, cache.RECENT, author_ids, load)

        async def one(author_id: int) -> list[int]:
            newest: list[int] = orjson.loads(found[author_id]) if author_id in found else []
            older = [pid for pid in newest if before is None or pid < before]
            if len(older) >= limit or len(newest) < RECENT_WINDOW:
                return older[:limit]
            return await photos.recent_photos(self.session, author_id, limit=limit,
                                              before=before)
        return list(await asyncio.gather(*(one(a) for a in author_ids)))

    async def profiles(self, ids: Sequence[int]) -> dict[int, Json]:
        """Profiles by user id (unregistered ids absent), with the ``private`` flag."""
        return _decode(await cache.get_many(self.redis, cache.PROFILE, ids,
                                            self._load_profiles))

    async def following(self, user_id: int) -> frozenset[int]:
        """Whom ``user_id`` follows now (approved edges only)."""
        found = await cache.get_many(self.redis, cache.FOLLOWING, [user_id],
                                     self._load_following)
        return frozenset(orjson.loads(found[user_id])) if user_id in found else frozenset()

    async def relations(self, user_id: int) -> Relations:
        """Whom ``user_id`` blocked, who blocked them, whom they muted."""
        found = await cache.get_many(self.redis, cache.RELATIONS, [user_id],
                                     self._load_relations)
        return _relations(found, user_id)

    async def social(self, user_id: int) -> tuple[frozenset[int], Relations]:
        """:meth:`following` and :meth:`relations` in one round trip: what every
        visibility decision for ``user_id`` needs."""
        following, relations = await cache.get_multi(self.redis, [
            (cache.FOLLOWING, [user_id], self._load_following),
            (cache.RELATIONS, [user_id], self._load_relations)])
        followees = (frozenset(orjson.loads(following[user_id])) if user_id in following
                     else frozenset())
        return followees, _relations(relations, user_id)

    async def social_many(self, user_ids: Sequence[int], *, following_of: Sequence[int]
                          ) -> dict[int, tuple[frozenset[int], Relations]]:
        """:meth:`social` for many users in one round trip (the live streams woken
        together); whom each follows is read only for ``following_of`` (the others get an
        empty set: their decisions need no follow edges)."""
        following, relations = await cache.get_multi(self.redis, [
            (cache.FOLLOWING, following_of, self._load_following),
            (cache.RELATIONS, user_ids, self._load_relations)])
        return {uid: (frozenset(orjson.loads(following[uid])) if uid in following
                      else frozenset(), _relations(relations, uid)) for uid in user_ids}

    async def _load_following(self, missing: list[int]) -> Mapping[int, bytes]:
        gate = asyncio.Semaphore(_LOAD_CONCURRENCY)  # many misses at once: live streams

        async def one(uid: int) -> bytes:
            async with gate:
                return orjson.dumps(await graph.following(self.session, uid))
        edges = await asyncio.gather(*(one(uid) for uid in missing))
        return dict(zip(missing, edges, strict=True))

    async def _load_relations(self, missing: list[int]) -> Mapping[int, bytes]:
        return await blocks.load_many(self.session, missing)

    async def engagement(self, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(likes, comments) per photo id."""
        return _counts(await cache.get_many(self.redis, cache.ENGAGEMENT, ids,
                                            self._load_engagement))

    async def liked_by(self, user_id: int, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` ``user_id`` likes."""
        found = await cache.get_many(self.redis, cache.LIKED, [user_id], self._load_liked)
        return await self._liked(user_id, ids, found)

    async def liked_in(self, user_id: int, ids: Sequence[int], window: bytes) -> set[int]:
        """:meth:`liked_by` from a likes window already read (its cached bytes)."""
        return await self._liked(user_id, ids, {user_id: window})

    async def card_parts(self, viewer: int, owners: Sequence[int], ids: Sequence[int]
                         ) -> tuple[dict[int, Json], dict[int, tuple[int, int]], set[int]]:
        """:meth:`profiles`, :meth:`engagement` and :meth:`liked_by` in one round trip."""
        profiles, counts, liked = await cache.get_multi(self.redis, [
            (cache.PROFILE, owners, self._load_profiles),
            (cache.ENGAGEMENT, ids, self._load_engagement),
            (cache.LIKED, [viewer], self._load_liked)])
        return _decode(profiles), _counts(counts), await self._liked(viewer, ids, liked)

    async def card_parts_counted(self, viewer: int, owners: Sequence[int], ids: Sequence[int]
                                 ) -> tuple[dict[int, Json], dict[int, tuple[int, int]],
                                            set[int], dict[int, dict[str, int]]]:
        """:meth:`card_parts` and the owners' :meth:`users_counts`, still one round trip
        (a Mastodon Status carries its author's counts: a second read cost a round trip
        per page)."""
        profiles, counts, liked, users = await cache.get_multi(self.redis, [
            (cache.PROFILE, owners, self._load_profiles),
            (cache.ENGAGEMENT, ids, self._load_engagement),
            (cache.LIKED, [viewer], self._load_liked),
            (cache.USER_COUNTS, owners, self._load_users_counts)])
        return (_decode(profiles), _counts(counts), await self._liked(viewer, ids, liked),
                {uid: orjson.loads(value) for uid, value in users.items()})

    async def card_parts_social(self, viewer: int, owners: Sequence[int], ids: Sequence[int]
                                ) -> tuple[dict[int, Json], dict[int, tuple[int, int]],
                                           set[int], frozenset[int], Relations]:
        """:meth:`card_parts` and :meth:`social` together, still one round trip."""
        profiles, counts, liked, following, relations = await cache.get_multi(self.redis, [
            (cache.PROFILE, owners, self._load_profiles),
            (cache.ENGAGEMENT, ids, self._load_engagement),
            (cache.LIKED, [viewer], self._load_liked),
            (cache.FOLLOWING, [viewer], self._load_following),
            (cache.RELATIONS, [viewer], self._load_relations)])
        followees = (frozenset(orjson.loads(following[viewer])) if viewer in following
                     else frozenset())
        return (_decode(profiles), _counts(counts), await self._liked(viewer, ids, liked),
                followees, _relations(relations, viewer))

    async def _load_profiles(self, missing: list[int]) -> Mapping[int, bytes]:
        rows = await users.get_users(self.session, missing)
        return {uid: _profile_json(u) for uid, u in rows.items()}

    async def _load_engagement(self, missing: list[int]) -> Mapping[int, bytes]:
        counts = await engagement.engagement_counts(self.session, missing)
        return {pid: orjson.dumps(c) for pid, c in counts.items()}

    async def _load_liked(self, missing: list[int]) -> Mapping[int, bytes]:
        out = {}
        for uid in missing:
            newest = await engagement.liked_photos(self.session, uid, LIKED_WINDOW)
            floor = newest[-1] if len(newest) == LIKED_WINDOW else 0
            out[uid] = orjson.dumps({"ids": newest, "floor": floor})
        return out

    async def _liked(self, user_id: int, ids: Sequence[int],
                     found: Mapping[int, bytes]) -> set[int]:
        """Exact from the cached window; photos older than it get a point read."""
        window: Json = orjson.loads(found[user_id]) if user_id in found else {}
        liked = set(window.get("ids", ())).intersection(ids)
        floor = int(window.get("floor", 0))
        older = [pid for pid in ids if pid < floor and pid not in liked]
        checks = await asyncio.gather(*(engagement.has_liked(self.session, pid, user_id)
                                        for pid in older))
        liked.update(pid for pid, yes in zip(older, checks, strict=True) if yes)
        return liked

    async def user_counts(self, user_id: int) -> dict[str, int]:
        """Photos, followers and following of one user."""
        return (await self.users_counts([user_id]))[user_id]

    async def users_counts(self, user_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """:meth:`user_counts` of many users in one batched cache read (a page of
        Mastodon statuses carries every author's counts)."""
        found = await cache.get_many(self.redis, cache.USER_COUNTS, list(user_ids),
                                     self._load_users_counts)
        return {uid: orjson.loads(found[uid]) for uid in user_ids}

    async def _load_users_counts(self, missing: list[int]) -> Mapping[int, bytes]:
        out = {}
        for uid in missing:
            p, f, g = await asyncio.gather(photos.photo_count(self.session, uid),
                                           graph.follower_count(self.session, uid),
                                           graph.following_count(self.session, uid))
            out[uid] = orjson.dumps({"photos": p, "followers": f, "following": g})
        return out

    # -- views that live only in Redis: empty (and noted) while it is unreachable --------

    async def trending_tags(self, hours: int, limit: int) -> list[tuple[str, int]]:
        """Hashtags on the most photos of the last ``hours`` hours, with their counts."""
        return await degraded.or_else(
            trending.trending_hashtags(self.redis, hours=hours, limit=limit), REDIS, _empty)

    async def popular(self, hours: int, limit: int) -> list[int]:
        """The most engaged photo ids of the last ``hours`` hours."""
        return await degraded.or_else(
            trending.popular_photo_ids(self.redis, hours=hours, limit=limit), REDIS, _empty)

    async def live_story_authors(self, user_ids: Sequence[int]) -> list[int]:
        """Which of ``user_ids`` have a live story now."""
        return await degraded.or_else(engagement.live_story_authors(self.redis, user_ids),
                                      REDIS, _empty)


async def _empty() -> list[Any]:
    return []


def _decode(found: Mapping[int, bytes]) -> dict[int, Json]:
    """Cached entries decoded; the same bytes are parsed once per process (callers never
    mutate what they get: the dicts are shared)."""
    return {key: decoded(value) for key, value in found.items()}


@lru_cache(maxsize=65_536)
def decoded(value: bytes) -> Any:
    """``orjson.loads`` of a cached entry's bytes, memoised: hot rows and profiles are read
    many times a second and change rarely (a changed entry is new bytes, a new key)."""
    return orjson.loads(value)


def _relations(found: Mapping[int, bytes], user_id: int) -> Relations:
    return Relations.from_json(found[user_id]) if user_id in found else blocks.NONE


def _counts(found: Mapping[int, bytes]) -> dict[int, tuple[int, int]]:
    pairs = {pid: orjson.loads(v) for pid, v in found.items()}
    return {pid: (int(p[0]), int(p[1])) for pid, p in pairs.items()}
