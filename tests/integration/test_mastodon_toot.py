"""The real ``toot`` CLI (PyPI ``toot``, a dev dependency) against the Mastodon API.

The executable from the virtualenv runs as a subprocess, with its own configuration
and cache directories (``XDG_CONFIG_HOME`` / ``XDG_CACHE_HOME`` / ``HOME`` in a temporary
directory), against the ingest app served by uvicorn (the fixtures of
:mod:`tests.integration.test_mastodon_api`). What it pins, as a person would use toot:

* ``toot login``: toot registers its app, prints the authorize URL (with toot's own
  trailing slash) and asks for the out-of-band code; the person opens the URL, signs in
  on the consent page, and types the code shown there into toot;
* ``toot login_cli``: the password grant (served only with ``PHOTOSTREAM_ENV=dev``, the
  tests' default), with the account's email as toot sends it;
* ``toot timeline``: the home timeline, with a followed account's post;
* ``toot post --media FILE --description ALT``: toot uploads to ``/api/v2/media``, polls
  ``/api/v1/media/:id`` until processed, posts the status; the post then shows processed
  with its alt text, to toot itself (``toot status --json``) and in the follower's timeline.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.readside import ReadWorld
from tests.integration.test_mastodon_api import (  # noqa: F401 (fixtures)
    PASSWORD,
    Server,
    form_fields,
    server,
    sign_up,
    world,
)
from tests.integration.waiting import eventually
from tests.support.images import numbered_jpeg

pytestmark = [pytest.mark.slow, pytest.mark.stack]

TOOT = Path(sys.executable).with_name("toot")


def toot_env(home: Path) -> dict[str, str]:
    """toot's environment: its config, cache and home in ``home``, no proxy for loopback,
    no colours, a wide terminal (URLs are not wrapped)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOOT_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               COLUMNS="400", PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


async def toot(home: Path, *args: str, stdin: str | None = None,
               timeout: float = 120) -> str:
    """Run ``toot args`` to completion; its stdout, or fail with what it printed."""
    process = await asyncio.create_subprocess_exec(
        str(TOOT), "--no-color", *args, env=toot_env(home),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else b""), timeout)
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def toot_login(site: Server, home: Path, username: str) -> str:
    """``toot login``, answered as a person would: read the URL toot prints, sign in on
    that page (the out-of-band redirect shows the code), type the code into toot."""
    process = await asyncio.create_subprocess_exec(
        str(TOOT), "--no-color", "login", "--instance", site.base, env=toot_env(home),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    printed: list[str] = []
    url = None
    while url is None:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line, f"toot exited before printing the login URL: {''.join(printed)}"
        printed.append(line)
        if line.startswith(site.base):
            url = line.strip()
    target = urlsplit(url)
    assert target.path.rstrip("/") == "/oauth/authorize"
    if target.path.endswith("/"):  # toot's own spelling: redirected to the consent page
        moved = await site.http.get(f"{target.path}?{target.query}")
        assert moved.status_code in (307, 308), moved.text
        assert urlsplit(moved.headers["location"]).path == "/oauth/authorize"
    page = await site.http.get(f"{target.path}?{target.query}", follow_redirects=True)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)">', page.text)
    assert action is not None
    fields = form_fields(page.text) | {"username": username, "password": PASSWORD}
    shown = await site.http.post(html.unescape(action.group(1)), data=fields)
    assert shown.status_code == 200, shown.text
    code = re.search(r'<output id="code">([^<]+)</output>', shown.text)
    assert code is not None, shown.text
    out, err = await asyncio.wait_for(
        process.communicate(f"n\n{html.unescape(code.group(1))}\n".encode()), 60)
    assert process.returncode == 0, (out.decode(), err.decode())
    return "".join(printed) + out.decode()


def config_of(home: Path) -> dict:
    found: dict = json.loads((home / "config" / "toot" / "config.json").read_text())
    return found


async def test_toot_logs_in_reads_the_timeline_and_posts_a_photo(
        world: ReadWorld, server: Server, tmp_path: Path) -> None:  # noqa: F811
    alice, bob = await sign_up(server), await sign_up(server)
    await world.follow(alice, bob)
    earlier = await world.photo(bob, "an earlier photo #toot")

    async def in_feed() -> bool:
        return earlier in await world.feed_ids(alice)
    await eventually(in_feed, timeout=60)

    # Alice: the browser-style login, with the out-of-band code.
    alice_home = tmp_path / "alice"
    said = await toot_login(server, alice_home, alice.username)
    assert "Successfully logged in" in said
    users = config_of(alice_home)["users"]
    assert list(users) == [f"{alice.username}@{urlsplit(server.base).netloc}"]
    shown = await toot(alice_home, "timeline", "--once", "--count", "20")
    assert f"@{bob.username}" in shown and "an earlier photo #toot" in shown
    assert f"ID {earlier}" in shown and "Media:" in shown

    # Bob: the password grant, as toot sends it (the email as the username).
    bob_home = tmp_path / "bob"
    said = await toot(bob_home, "login_cli", "--instance", server.base,
                      "--email", f"{bob.username}@example.org", "--password", PASSWORD)
    assert "Successfully logged in" in said
    me = json.loads(await toot(bob_home, "whoami", "--json"))
    assert me["username"] == bob.username and me["id"] == str(bob.user_id)

    photo = tmp_path / "harbour.jpg"
    photo.write_bytes(numbered_jpeg(7, 640, 480))
    posted = await toot(bob_home, "post", "first toot from the harbour #toot",
                        "--media", str(photo), "--description", "boats in a harbour at dusk")
    found = re.search(r"Toot posted: (\S+)", posted)
    assert found is not None, posted
    status_id = found.group(1).rstrip("/").rsplit("/", 1)[-1]
    assert status_id.isdigit()

    async def processed() -> bool:
        status = json.loads(await toot(bob_home, "status", status_id, "--json"))
        media = status["media_attachments"]
        return (len(media) == 1 and bool(media[0]["url"])
                and media[0]["description"] == "boats in a harbour at dusk")
    await eventually(processed, timeout=90, interval=1)
    status = json.loads(await toot(bob_home, "status", status_id, "--json"))
    assert status["account"]["username"] == bob.username
    assert "first toot from the harbour" in status["content"]
    assert status["media_attachments"][0]["type"] == "image"
    assert status["media_attachments"][0]["preview_url"]

    async def alice_sees_it() -> bool:
        return f"ID {status_id}" in await toot(alice_home, "timeline", "--once")
    await eventually(alice_sees_it, timeout=60, interval=1)
