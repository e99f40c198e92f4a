"""The Mastodon routers that must be mounted before :mod:`.routes`, in one list.

Why before: :mod:`.routes` serves ``/accounts/{id}`` and ``/statuses/{id}``, which would
take ``/accounts/search`` for an account id and a reply id (:mod:`.replies`) for a
photo id; the first route that matches a path answers it.
"""

from __future__ import annotations

from fastapi import APIRouter

from producers.mastodon import accounts, media_edit, search, statuses

routers: list[APIRouter] = [accounts.router, statuses.router, search.router,
                            media_edit.router]
