"""Mastodon's Notification and grouped notifications (4.3), made from shown inbox entries.

A Notification's ``account`` is the entry's newest actor the reader may hear from, its
``status`` the post hydrated exactly as the timelines hydrate it (:meth:`api.cards.Cards.
cards` then :func:`producers.mastodon.routes.statuses_of`), so the card's visibility
rule applies once more. A comment (and a mention in a comment) has no status of its own
in photostream: it is shown as Mastodon shows a reply, a Status with the comment's id
and text, ``in_reply_to_id`` the post, no media. An entry whose post the reader may
not see (anymore) is left out, never shown without it.

The grouped shape (``GET /api/v2/notifications``) is photostream's own grouping: one
group per entry, ``notifications_count`` its actor count, ``sample_account_ids`` the
newest actors shown, ``page_min_id`` = ``page_max_id`` = the entry id.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from api.cards import created_at
from api.notifications import Json
from api.service import ReadService
from producers.mastodon import entities
from producers.mastodon.inbox import GROUPED, Shown
from producers.mastodon.routes import statuses_of


def group_key(shown: Shown) -> str:
    """Mastodon's opaque group key: ``ungrouped-{id}`` for what it never groups."""
    kind = shown.kind
    return f"{kind}-{shown.id}" if kind in GROUPED else f"ungrouped-{shown.id}"


def _at(shown: Shown) -> str:
    """When the entry last changed (its newest actor's time)."""
    return str(shown.item["updated_at"] or shown.item["created_at"])


def reply(comment_id: int, text: str, author: Json, post: Json, base: str) -> Json:
    """A comment as Mastodon's reply Status (``text``: the comment, as the entry keeps it)."""
    url = f"{post['url']}#comment-{comment_id}"
    return {**post, "id": str(comment_id), "uri": url, "url": url,
            "created_at": created_at(comment_id), "account": author,
            "content": entities.content_html(text, base), "spoiler_text": "",
            "sensitive": False, "media_attachments": [], "tags": entities.tags(text, base),
            "mentions": [], "favourites_count": 0, "replies_count": 0, "favourited": False,
            "in_reply_to_id": post["id"], "in_reply_to_account_id": post["account"]["id"]}


class Render:
    """Entities for one request's reader (``request``: its base URL and services)."""

    def __init__(self, request: Request, viewer: int) -> None:
        self.request = request
        self.viewer = viewer
        self.svc: ReadService = request.app.state.read
        self.base = str(request.base_url).rstrip("/")

    async def accounts(self, user_ids: Sequence[int]) -> dict[int, Json]:
        """Account entities of the registered ones of ``user_ids``."""
        wanted = list(dict.fromkeys(user_ids))
        profiles = await self.svc.views.profiles(wanted)
        present = [uid for uid in wanted if uid in profiles]
        counts = await self.svc.views.users_counts(present)
        return {uid: entities.account(profiles[uid], counts[uid], self.base,
                                     self.svc.urls)
                for uid in present}

    async def statuses(self, photo_ids: Sequence[int]) -> dict[int, Json]:
        """Statuses of the posts the reader may see, by id (the timelines' path)."""
        if not photo_ids:
            return {}
        cards = await self.svc.cards.cards(self.viewer, list(dict.fromkeys(photo_ids)),
                                           with_items=True)
        return {int(status["id"]): status
                for status in await statuses_of(self.request, self.viewer, cards)}

    async def _parts(self, shown: Sequence[Shown], every_actor: bool
                     ) -> tuple[dict[int, Json], dict[int, Json | None]]:
        """(accounts by id, each entry's status by entry id: None when the entry has no
        post; entries whose post is not visible are missing)."""
        actors = [int(actor["user_id"]) for one in shown
                  for actor in (one.item["actors"] if every_actor else one.item["actors"][:1])]
        accounts = await self.accounts(actors)
        posts = await self.statuses([one.entry.photo_id for one in shown
                                     if one.entry.photo_id is not None])
        statuses: dict[int, Json | None] = {}
        for one in shown:
            entry = one.entry
            if entry.photo_id is None:
                statuses[entry.notification_id] = None
                continue
            post = posts.get(entry.photo_id)
            author = accounts.get(int(one.item["actors"][0]["user_id"]))
            if post is None or author is None:
                continue
            statuses[entry.notification_id] = (
                reply(entry.comment_id, entry.excerpt, author, post, self.base)
                if entry.comment_id else post)
        return accounts, statuses

    async def notifications(self, shown: Sequence[Shown]) -> list[Json]:
        """Notification entities (``GET /api/v1/notifications``, the stream)."""
        accounts, statuses = await self._parts(shown, every_actor=False)
        out = []
        for one in shown:
            account = accounts.get(int(one.item["actors"][0]["user_id"]))
            if account is None or one.entry.notification_id not in statuses:
                continue
            body: Json = {"id": one.id, "type": one.kind, "created_at": _at(one),
                          "group_key": group_key(one), "account": account}
            status = statuses[one.entry.notification_id]
            if status is not None:
                body["status"] = status
            out.append(body)
        return out

    async def grouped(self, shown: Sequence[Shown], *, partial: bool) -> Json:
        """``GET /api/v2/notifications``' answer: groups, and the accounts and statuses
        they name, each once. Every account is sent in full (``partial``: the
        ``partial_accounts`` list is there, empty, as the client asked for it)."""
        accounts, statuses = await self._parts(shown, every_actor=True)
        groups: list[Json] = []
        named: dict[int, Json] = {}
        posts: dict[str, Json] = {}
        for one in shown:
            sample = [uid for uid in (int(a["user_id"]) for a in one.item["actors"])
                      if uid in accounts]
            if not sample or one.entry.notification_id not in statuses:
                continue
            group: Json = {
                "group_key": group_key(one), "notifications_count": one.item["actor_count"],
                "type": one.kind, "most_recent_notification_id": one.id,
                "page_min_id": one.id, "page_max_id": one.id,
                "latest_page_notification_at": _at(one),
                "sample_account_ids": [str(uid) for uid in sample]}
            status = statuses[one.entry.notification_id]
            if status is not None:
                group["status_id"] = status["id"]
                posts[status["id"]] = status
            named.update((uid, accounts[uid]) for uid in sample)
            groups.append(group)
        body: Json = {"accounts": list(named.values()), "statuses": list(posts.values()),
                      "notification_groups": groups}
        if partial:
            body["partial_accounts"] = []
        return body
