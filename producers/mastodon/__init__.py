"""The Mastodon-compatible client API and its OAuth 2 server (issue 20), so existing
Mastodon apps (Mastodon.py, toot, phone apps) can use photostream.

Why here, mounted on the ingest app: a client is configured with ONE base URL, and the
surface holds writes (apps, tokens, later statuses and media) as well as reads. The
ingest service is the write side and may import the read side (producers -> api is a
permitted arrow; api may not import producers), so only this floor can answer both
through one process: reads call the same :class:`api.service.ReadService` (feed reader,
card hydration, :mod:`api.visibility`) that ``/v1`` uses, writes call the same paths as
ingest's own routes. The read API process could not serve the writes without importing
the producers floor. The ingest app opens the read service in its lifespan for this.

Modules: :mod:`.scopes` (OAuth scopes, pure), :mod:`.errors` (Mastodon's error shape),
:mod:`.oauth` (apps, authorize, token, revoke), :mod:`.entities` (Account, Status,
MediaAttachment, as Mastodon documents them), :mod:`.routes` (instance, nodeinfo,
accounts, timelines). Mounted ahead of it (:mod:`.before_routes`): :mod:`.accounts`
(profile edits, follower lists, follow requests, account search), :mod:`.statuses`
(delete, likers, context), :mod:`.replies` (comments as statuses), :mod:`.search`
(``/api/v2/search``, the hashtag timeline), :mod:`.media_edit` (alt-text edits).
"""
