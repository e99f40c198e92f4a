"""Avatars and headers (docs/mastodon-api.md) with the real Mastodon.py client against the
real stack: what ``account_update_credentials(avatar=..., header=...)`` sends is
rendered by the media processor at Mastodon's sizes and served from MinIO, on the
Account entity and the native profile; bad files are refused at the door or, found by
the render, leave the old image; a redelivered old upload does not replace a newer one;
a deleted account's images stop being served.

Same server and processors as :mod:`tests.integration.test_mastodon_api` (its fixtures,
reused: the media, metadata and graph processors run).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError
from PIL import Image

from infra.connect.publisher import Publisher
from schemas.envelope import Event, decode
from schemas.payload import Payload
from schemas.profile_images import (
    ProfileImageFailed,
    ProfileImageProcessed,
    ProfileImageUploaded,
)
from schemas.topics import MEDIA_PROCESSED, MEDIA_UPLOADED
from tests.integration import test_mastodon_api as base
from tests.integration.kafka_tail import Offsets, end_offsets, records_since
from tests.integration.readside import Person, ReadWorld
from tests.integration.test_mastodon_api import Server, client, password_token, sign_up
from tests.integration.waiting import eventually
from tests.support.images import image_bytes

pytestmark = [pytest.mark.slow, pytest.mark.stack]

world = base.world
server = base.server

MISSING_AVATAR = "/avatars/original/missing.png"


async def mastodon(server: Server, person: Person) -> Mastodon:
    return client(server, (await password_token(server, person, "read write"))[2])


async def call(api: Mastodon, method: str, *args: Any, **kwargs: Any) -> Any:
    """A Mastodon.py call off the event loop (it is a blocking client)."""
    return await asyncio.to_thread(getattr(api, method), *args, **kwargs)


async def image_size(url: str) -> tuple[int, int]:
    """GET ``url`` (a signed MinIO URL) and the size of the JPEG it serves."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    assert answer.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(answer.content)) as im:
        assert im.format == "JPEG"
        return im.size


async def events_since(world: ReadWorld, start: Offsets) -> list[Event[Payload]]:
    return [decode(r.value) for r in await records_since(world.settings, start)]


async def put_avatar(server: Server, person: Person, data: bytes) -> httpx.Response:
    return await server.http.put("/v1/me/avatar", headers=person.auth,
                                 files={"file": ("a.jpg", data, "image/jpeg")})


async def shown_avatar(api: Mastodon, different_from: str, field: str = "avatar") -> str:
    """Wait until verify_credentials shows an avatar (or ``field``) other than
    ``different_from``; returns it."""
    found: list[str] = []

    async def changed() -> bool:
        found[:] = [(await call(api, "account_verify_credentials"))[field]]
        return found[0] != different_from
    await eventually(changed, timeout=60)
    return found[0]


async def test_avatar_and_header_from_mastodon_py_are_served_at_mastodons_sizes(
        world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    api = await mastodon(server, alice)
    before = await call(api, "account_verify_credentials")
    assert before["avatar"].endswith(MISSING_AVATAR)
    assert before["header"].endswith("/headers/original/missing.png")

    answer = await call(api, "account_update_credentials", display_name="Alice",
                        avatar=image_bytes(900, 600, fmt="PNG"), avatar_mime_type="image/png",
                        header=image_bytes(2000, 1200), header_mime_type="image/jpeg")
    assert answer["display_name"] == "Alice"
    avatar = await shown_avatar(api, before["avatar"])
    await shown_avatar(api, before["header"], "header")  # rendered on their own
    me = await call(api, "account_verify_credentials")
    assert me["avatar_static"] == avatar and me["header_static"] == me["header"]
    assert await image_size(avatar) == (400, 400)
    assert await image_size(me["header"]) == (1500, 500)

    # Everyone else sees the same: Mastodon's account(id), and the native profile.
    seen = await call(await mastodon(server, bob), "account", alice.user_id)
    assert seen["avatar"] == avatar and seen["header"] == me["header"]
    profile = (await world.get(f"/v1/users/{alice.user_id}", bob)).json()
    assert await image_size(profile["avatar_url"]) == (400, 400)
    assert await image_size(profile["avatar_small_url"]) == (120, 120)
    assert await image_size(profile["header_url"]) == (1500, 500)
    assert (await world.get(f"/v1/users/{bob.user_id}", bob)).json()["avatar_url"] is None


async def test_bad_files_are_refused_at_the_door_or_leave_the_old_avatar(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    api = await mastodon(server, alice)
    missing = (await call(api, "account_verify_credentials"))["avatar"]
    await call(api, "account_update_credentials", avatar=image_bytes(300, 300),
               avatar_mime_type="image/jpeg")
    good = await shown_avatar(api, missing)

    limit = world.settings.ingest.max_profile_image_bytes
    mangled_header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 400
    for data, says in [(mangled_header, "corrupt image"),
                       (b"just some text, no picture at all\n" * 40, "must be an image"),
                       (b"\xff\xd8\xff" + b"\x00" * limit, "exceeds the limit")]:
        with pytest.raises(MastodonAPIError) as refused:
            await call(api, "account_update_credentials", avatar=data,
                       avatar_mime_type="image/jpeg")
        assert "422" in str(refused.value) and says in str(refused.value), refused.value
    # The same at /v1, as problem+json.
    answer = await put_avatar(server, alice, mangled_header)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await put_avatar(server, alice, b"GIF89a? no")).status_code in (415, 422)

    # A sound header over broken pixel data passes the door; the render refuses it.
    start = await end_offsets(world.settings, MEDIA_PROCESSED.name)
    truncated = image_bytes(1200, 900)[:2000]
    answer = await put_avatar(server, alice, truncated)
    assert answer.status_code == 202, answer.text
    image_id = int(answer.json()["image_id"])

    async def refused_by_render() -> bool:
        return any(isinstance(e.payload, ProfileImageFailed) and e.payload.photo_id == image_id
                   for e in await events_since(world, start))
    await eventually(refused_by_render, timeout=60)
    after = await call(api, "account_verify_credentials")
    assert after["avatar"] == good
    assert await image_size(after["avatar"]) == (400, 400)


async def test_a_redelivered_older_upload_does_not_replace_the_newer_avatar(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    api = await mastodon(server, alice)
    missing = (await call(api, "account_verify_credentials"))["avatar"]
    uploads = await end_offsets(world.settings, MEDIA_UPLOADED.name)
    first = (await put_avatar(server, alice, image_bytes(500, 500, (10, 200, 10))))
    first_url = await shown_avatar(api, missing)
    second = (await put_avatar(server, alice, image_bytes(500, 500, (10, 10, 200))))
    second_url = await shown_avatar(api, first_url)
    assert first.status_code == second.status_code == 202

    # The first upload's event again, as Kafka redelivers it (same event id).
    old_id = int(first.json()["image_id"])
    original = next(e for e in await events_since(world, uploads)
                    if isinstance(e.payload, ProfileImageUploaded)
                    and e.payload.photo_id == old_id)
    processed = await end_offsets(world.settings, MEDIA_PROCESSED.name)
    async with Publisher(world.settings) as publisher:
        await publisher.publish(original)

    async def rendered_again() -> bool:
        return any(isinstance(e.payload, ProfileImageProcessed) and e.payload.photo_id == old_id
                   for e in await events_since(world, processed))
    await eventually(rendered_again, timeout=60)
    await asyncio.sleep(1)  # the metadata processor applies it right after
    assert (await call(api, "account_verify_credentials"))["avatar"] == second_url


async def test_a_deleted_accounts_avatar_is_no_longer_served(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    api = await mastodon(server, alice)
    missing = (await call(api, "account_verify_credentials"))["avatar"]
    assert (await put_avatar(server, alice, image_bytes(640, 480))).status_code == 202
    avatar = await shown_avatar(api, missing)
    assert await image_size(avatar) == (400, 400)
    assert (await server.http.delete("/v1/me", headers=alice.auth)).status_code == 202

    async def gone() -> bool:
        async with httpx.AsyncClient() as http:
            return (await http.get(avatar)).status_code == 404
    await eventually(gone, timeout=60)
