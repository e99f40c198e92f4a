"""The security headers: the policy builder, the HTML test and the middleware on a tiny app."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from api.routes import web
from infra.http import problems
from infra.http.headers import (
    DOCS_POLICY,
    LOCKED_POLICY,
    SecurityHeaders,
    content_security_policy,
    is_html,
)
from infra.settings import Settings


def test_policy_joins_directives_and_drops_empty_and_repeated_sources() -> None:
    policy = content_security_policy({
        "default-src": ["'self'"], "img-src": ["'self'", "", "data:", "'self'"],
        "frame-ancestors": ["'none'"]})
    assert policy == "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


def test_is_html_reads_the_content_type_only() -> None:
    assert is_html([(b"Content-Type", b"text/html; charset=utf-8")])
    assert not is_html([(b"content-type", b"application/problem+json")])
    assert not is_html([(b"x-note", b"text/html")])
    assert not is_html([])


def _answering(content_type: bytes) -> SecurityHeaders:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": b"x"})
    return SecurityHeaders(app, csp=lambda scope: "default-src 'self'")


async def _headers(middleware: SecurityHeaders, path: str = "/") -> dict[str, str]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware({"type": "http", "path": path, "headers": []}, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return {k.decode(): v.decode() for k, v in sent[0]["headers"]}


async def test_json_answers_get_nosniff_and_referrer_policy_but_no_csp() -> None:
    headers = await _headers(_answering(b"application/json"))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "content-security-policy" not in headers and "x-frame-options" not in headers


async def test_html_answers_get_the_apps_policy_and_deny_framing() -> None:
    headers = await _headers(_answering(b"text/html; charset=utf-8"))
    assert headers["content-security-policy"] == "default-src 'self'"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


async def test_docs_pages_get_the_docs_policy() -> None:
    headers = await _headers(_answering(b"text/html"), path="/docs")
    assert headers["content-security-policy"] == DOCS_POLICY
    assert "frame-ancestors 'none'" in DOCS_POLICY and "frame-ancestors 'none'" in LOCKED_POLICY


def test_web_app_policy_allows_its_origins_and_no_inline_script() -> None:
    settings = Settings()
    settings = dataclasses.replace(settings, api=dataclasses.replace(
        settings.api, ingest_url="https://up.example.com/base",
        media_base_url="https://media.example.com"))
    policy = web.policy(settings)({"type": "http", "scheme": "https", "path": "/app/",
                                   "server": ("photos.example.com", 443), "headers": []})
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["connect-src"] == ["'self'", "https://up.example.com"]
    assert "https://media.example.com" in directives["img-src"]
    assert "https://media.example.com" in directives["media-src"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_web_app_policy_follows_the_host_the_browser_used() -> None:
    policy = web.policy(Settings())({"type": "http", "scheme": "http", "path": "/app/",
                                     "headers": [(b"host", b"localhost:8082")]})
    assert "connect-src 'self' http://localhost:8081;" in policy
    assert "img-src 'self' data: blob: http://127.0.0.1:9000;" in policy


async def test_problem_answers_carry_nosniff_even_the_500() -> None:
    app = FastAPI()
    problems.install(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, status in (("/missing", 404), ("/boom", 500)):
            answer = await client.get(path)
            assert answer.status_code == status
            assert answer.headers["content-type"] == problems.PROBLEM_JSON
            assert answer.headers["x-content-type-options"] == "nosniff", path
