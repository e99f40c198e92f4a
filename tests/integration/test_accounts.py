"""Accounts people own (docs/http-api.md, "Accounts") against the real stack.

Ingest runs in-process with the client address each test picks; the graph processor and
the read API run as in :mod:`tests.integration.readside`, so a sign-up goes the whole way
(claims and credentials in Cassandra, ``user.registered`` on Kafka, the users row stored
by the real processor) and a signed-out token is refused by *both* services.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.settings import RateLimitSettings, Settings
from producers.ingest import create_app
from producers.ingest.password_accounts import WRONG_CREDENTIALS
from tests.integration.readside import ReadWorld, read_world
from tests.integration.test_ingest_writes import names_field, problem
from tests.integration.test_rate_limits import window_start

pytestmark = [pytest.mark.slow, pytest.mark.stack]

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@contextlib.asynccontextmanager
async def ingest_at(settings: Settings, address: str | None = None
                    ) -> AsyncIterator[httpx.AsyncClient]:
    """Ingest in-process, every request coming from ``address`` (default: a random one)."""
    address = address or "10." + ".".join(str(random.randrange(1, 255)) for _ in range(3))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield client


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_at(world.settings) as client:
        yield client


def fresh_name() -> str:
    return f"u{random.getrandbits(48):x}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(ingest: httpx.AsyncClient, name: str | None = None, email: str | None = None,
                  password: str = PASSWORD) -> dict[str, Any]:
    name = name or fresh_name()
    answer = await ingest.post("/v1/accounts", json={
        "username": name, "email": email or f"{name}@example.org", "password": password})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def sign_in(ingest: httpx.AsyncClient, name: str, password: str = PASSWORD
                  ) -> httpx.Response:
    return await ingest.post("/v1/sessions", json={"username": name, "password": password})


async def test_sign_up_sign_in_and_sign_out_ends_that_session_at_once_on_both_services(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    first = await sign_up(ingest, name.upper(), f"{name}@Example.ORG")
    assert first["username"] == name
    me = await world.http.get("/v1/me", headers=bearer(first["token"]))
    assert me.status_code == 200 and me.json()["username"] == name, me.text

    second = await sign_in(ingest, name)
    by_email = await sign_in(ingest, f"{name.upper()}@example.org")
    assert second.status_code == 200 and by_email.status_code == 200, by_email.text
    token = second.json()["token"]
    assert second.json()["user_id"] == first["user_id"]

    out = await ingest.delete("/v1/sessions/current", headers=bearer(token))
    assert out.status_code == 204, out.text
    refused = await world.http.get("/v1/me", headers=bearer(token))
    assert "session was signed out" in problem(refused, 401)["detail"]
    problem(await ingest.patch("/v1/me", headers=bearer(token), json={"bio": "x"}), 401)
    for other in (first["token"], by_email.json()["token"]):  # other sessions go on
        assert (await world.http.get("/v1/me", headers=bearer(other))).status_code == 200


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer_in_similar_time(
        ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    await sign_up(ingest, name)
    answers: dict[str, list[float]] = {"wrong": [], "unknown": []}
    bodies = []
    for _ in range(5):
        for kind, who in (("wrong", name), ("unknown", fresh_name())):
            started = time.perf_counter()
            refused = await sign_in(ingest, who, "not the password at all")
            answers[kind].append(time.perf_counter() - started)
            body = problem(refused, 401)
            bodies.append((body, refused.headers["www-authenticate"]))
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0][0]["detail"] == WRONG_CREDENTIALS
    wrong, unknown = (statistics.median(answers[k]) for k in ("wrong", "unknown"))
    assert unknown > 0.5 * wrong, f"an unknown user answers too fast: {unknown} vs {wrong}"
    malformed = await sign_in(ingest, "\u0430lice", "not the password at all")  # Cyrillic a
    assert problem(malformed, 401) == bodies[0][0]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("password", "short1!", "at least 10"),
    ("password", "x" * 129, "at most 128"),
    ("password", "x" * 5000, "at most"),
    ("password", "Password123", "most common"),
    ("password", "QWERTYUIOP", "most common"),
    ("email", "not-an-email", "not an email"),
    ("email", "a@b", "domain"),
    ("email", "two@@example.org", "not an email"),
    ("email", "space d@example.org", "not an email"),
    ("username", "\u0430lice", "look-alike"),  # Cyrillic a
    ("username", "ali\u200bce", "look-alike"),  # a zero-width space inside
    ("username", "al", "3-30"),
    ("username", "a" * 31, "3-30"),
    ("username", "bad name", "3-30"),
])
async def test_bad_sign_ups_are_precise_422s_and_create_nothing(
        ingest: httpx.AsyncClient, field: str, value: str, says: str) -> None:
    name = fresh_name()
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD,
            field: value}
    refused = await ingest.post("/v1/accounts", json=body)
    answer = problem(refused, 422)
    names_field(answer, f"body.{field}")
    assert says in answer["detail"], answer
    if field != "username":  # the name is still free
        await sign_up(ingest, name)


async def test_a_password_equal_to_the_username_is_refused(ingest: httpx.AsyncClient) -> None:
    name = fresh_name() + "xyz"
    refused = await ingest.post("/v1/accounts", json={
        "username": name, "email": f"{name}@example.org", "password": name.upper()})
    assert "username or email" in problem(refused, 422)["detail"]


async def test_taken_usernames_and_emails_are_409_and_leave_nothing_half_created(
        ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    await sign_up(ingest, name, f"{name}@example.org")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in name)
    for variant in (name, name.upper(), fullwidth):  # NFKC + casefold: the same name
        refused = await ingest.post("/v1/accounts", json={
            "username": variant, "email": f"{fresh_name()}@example.org", "password": PASSWORD})
        body = problem(refused, 409)
        assert body["type"].endswith("/username-taken") and body["field"] == "username"

    other = fresh_name()
    refused = await ingest.post("/v1/accounts", json={
        "username": other, "email": f"{name}@EXAMPLE.org", "password": PASSWORD})
    assert problem(refused, 409)["type"].endswith("/email-taken")
    # The username that lost on its email was released, and no account exists under it.
    assert problem(await sign_in(ingest, other), 401)["detail"] == WRONG_CREDENTIALS
    await sign_up(ingest, other)


async def test_two_sign_ups_racing_for_one_name_make_one_account(
        ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    answers = await asyncio.gather(*(ingest.post("/v1/accounts", json={
        "username": name, "email": f"{fresh_name()}@example.org", "password": PASSWORD})
        for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [
        a.text for a in answers]


async def test_changing_the_password_ends_every_session_and_answers_with_a_new_one(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    first = (await sign_up(ingest, name))["token"]
    other = (await sign_in(ingest, name)).json()["token"]
    new_password = "a much better passphrase"

    wrong = await ingest.post("/v1/me/password", headers=bearer(first), json={
        "old_password": "not the password", "new_password": new_password})
    assert problem(wrong, 403)["type"].endswith("/wrong-password")
    weak = await ingest.post("/v1/me/password", headers=bearer(first), json={
        "old_password": PASSWORD, "new_password": "1234567890"})
    names_field(problem(weak, 422), "body.new_password")

    changed = await ingest.post("/v1/me/password", headers=bearer(first), json={
        "old_password": PASSWORD, "new_password": new_password})
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["token"]
    for old in (first, other):
        problem(await world.http.get("/v1/me", headers=bearer(old)), 401)
        problem(await ingest.patch("/v1/me", headers=bearer(old), json={"bio": "x"}), 401)
    assert (await world.http.get("/v1/me", headers=bearer(fresh))).status_code == 200
    assert problem(await sign_in(ingest, name), 401)["detail"] == WRONG_CREDENTIALS
    assert (await sign_in(ingest, name, new_password)).status_code == 200


def limited(settings: Settings, **limits: int) -> Settings:
    """``settings`` with only ``limits`` (the others off), in 60 s windows."""
    off = RateLimitSettings(window_seconds=60, sign_ins=0, account_sign_ins=0, sign_ups=0)
    return dataclasses.replace(settings, rate=dataclasses.replace(off, **limits))


async def test_a_thousand_sign_in_attempts_from_one_address_are_429s_never_500s(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    await sign_up(ingest, name)
    settings = limited(world.settings, sign_ins=10, account_sign_ins=10)
    async with ingest_at(settings) as attacker:
        gate = asyncio.Semaphore(10)

        async def attempt(number: int) -> httpx.Response:
            async with gate:
                who = name if number % 2 else fresh_name()
                return await sign_in(attacker, who, f"guess number {number}")

        started = time.monotonic()
        answers = await asyncio.gather(*(attempt(n) for n in range(1000)))
        elapsed = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {401, 429}, sorted(set(statuses))
    # At most two windows' worth get through to a password check (the window may turn).
    assert statuses.count(401) <= 20 and statuses.count(429) >= 980
    for refused in answers:
        if refused.status_code == 429:
            assert int(refused.headers["Retry-After"]) >= 1
            assert problem(refused, 429)["type"].endswith("/rate-limited")
    assert elapsed < 60, f"1000 attempts took {elapsed:.1f} s"


async def test_sign_ins_are_limited_per_account_whatever_the_address(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    await sign_up(ingest, name)
    settings = dataclasses.replace(world.settings, rate=RateLimitSettings(
        window_seconds=5, sign_ins=0, account_sign_ins=3, sign_ups=0))
    await window_start("account_sign_ins", f"account:{name}")
    statuses = []
    for _ in range(4):
        async with ingest_at(settings) as client:  # a new address each time
            statuses.append((await sign_in(client, name, "wrong guess here")).status_code)
    assert statuses == [401, 401, 401, 429]
    async with ingest_at(settings) as client:  # the right password waits for the window too
        over = await sign_in(client, name)
        assert over.status_code == 429 and "account-sign-ins" in over.json()["detail"]


async def test_a_deleted_account_frees_its_username_and_email_and_forgets_its_password(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = fresh_name()
    old = await sign_up(ingest, name)
    gone = await ingest.delete("/v1/me", headers=bearer(old["token"]))
    assert gone.status_code == 202, gone.text
    assert problem(await sign_in(ingest, name), 401)["detail"] == WRONG_CREDENTIALS

    async def name_is_free() -> bool:  # the profile's username is freed by the processor
        answer = await ingest.post("/v1/accounts", json={
            "username": name, "email": f"{name}@example.org", "password": "another fine pass"})
        assert answer.status_code in (201, 409), answer.text
        return answer.status_code == 201

    await world.until(name_is_free)
    again = await sign_in(ingest, name, "another fine pass")
    assert again.status_code == 200, again.text
    assert again.json()["user_id"] != old["user_id"]
