"""Security headers on every response; docs only when the setting serves them; HSTS behind TLS."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from server.auth.enums import Role
from server.headers import DOCS_CSP, STRICT_CSP
from server.main import create_app
from tests import factories

STRICT = {
    "content-security-policy": ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; "
                                "img-src 'self' data: blob:; style-src 'self'; frame-ancestors 'none'; "
                                "object-src 'none'; base-uri 'none'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def _assert_strict(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in STRICT.items():
        assert response.headers.get(name) == value, (response.request.url, name)


def test_api_responses_carry_the_headers_and_are_never_stored(client, db_session) -> None:  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    admin = factories.user(db_session, Role.district_admin)
    h = factories.auth_headers(admin)
    responses = [
        client.get("/api/v1/auth/me", headers=h),  # personal data
        client.get("/api/v1/rentals", headers=h),
        client.get("/api/v1/events/feed?seconds=0", headers=h),  # a stream (it asked for no-cache)
        client.get("/api/v1/health"),
        client.get("/api/v1/grids"),  # 401
        client.post("/api/v1/photos", content=b"x" * 10, headers={**h, "Content-Length": str(10**10)}),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 413]
    for r in responses:
        _assert_strict(r)
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert "strict-transport-security" not in r.headers  # plain http, GRIDOPS_HSTS unset


def test_docs_are_off_outside_the_demo(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/docs", "/redoc", "/openapi.json"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        _assert_strict(r)


@pytest.mark.parametrize("env", [{"GRIDOPS_PUBLIC_DOCS": "true"}, {"GRIDOPS_DEMO": "true"}])
def test_served_docs_get_their_own_policy(settings_env, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    settings_env(**{"GRIDOPS_PUBLIC_DOCS": None, "GRIDOPS_DEMO": None, **env})
    with TestClient(create_app()) as c:
        assert c.get("/openapi.json").status_code == 200
        _assert_strict(c.get("/openapi.json"))
        for path in ("/docs", "/redoc"):
            page = c.get(path)
            assert page.status_code == 200 and page.headers["content-security-policy"] == DOCS_CSP
            assert page.headers["x-frame-options"] == "DENY" and "cache-control" not in page.headers
            _policy_allows_the_page(DOCS_CSP, page.text)


def _policy_allows_the_page(csp: str, html: str) -> None:
    """Every external script, stylesheet and icon the page loads, and its inline script, is allowed."""
    policy = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    loads = []
    for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", html):
        url = re.search(r'\b(?:src|href)="(https://[^"]+)"', tag)
        if url:
            kind = ("script-src" if tag.startswith("<script") else
                    "style-src" if 'rel="stylesheet"' in tag else "img-src")  # the rest: favicons
            loads.append((kind, url.group(1)))
    assert loads
    for directive, url in loads:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in policy[directive], (url, directive)
    if re.search(r"<script>", html):
        assert "'unsafe-inline'" in policy["script-src"]


def test_strict_policy_is_the_one_asked_for() -> None:
    assert STRICT_CSP == STRICT["content-security-policy"]
    assert "'unsafe-inline'" not in STRICT_CSP and "https:" not in STRICT_CSP


def test_hsts_behind_tls(settings_env) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(), base_url="https://testserver") as c:  # the request came over https
        assert c.get("/api/v1/health").headers["strict-transport-security"] == "max-age=31536000"
    settings_env(GRIDOPS_HSTS="true")  # TLS ends at a proxy that does not say so
    with TestClient(create_app()) as c:
        assert c.get("/api/v1/health").headers["strict-transport-security"] == "max-age=31536000"
