"""Security headers on every response: one pure ASGI middleware, outermost, so errors and streams get them.

The API answers JSON and files, and the dashboard (/dashboard/) is served from the same origin, so the
policy is strict: scripts, styles and workers only from here, nothing may frame a page. The one
outside origin the dashboard may reach is the configured basemap's tile server (GRIDOPS_BASEMAP_URL):
its pages alone admit it for images and fetches. The
Swagger UI (/docs) and ReDoc (/redoc) load from a CDN and run an inline script: when docs are
served (GRIDOPS_PUBLIC_DOCS) those pages alone get a relaxed policy. API responses carry personal
data (tenants, users, locations): no browser or proxy keeps them (`Cache-Control: no-store`).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; img-src 'self' data: blob:; "
              "style-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "worker-src 'self' blob:; img-src 'self' data: https://fastapi.tiangolo.com; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; frame-ancestors 'none'; object-src 'none'; base-uri 'none'")
def strict_csp(extra_origin: str | None = None) -> str:
    """STRICT_CSP, admitting `extra_origin` (the basemap's tile server) for images and fetches only."""
    if not extra_origin:
        return STRICT_CSP
    return STRICT_CSP.replace("img-src 'self' data: blob:", f"img-src 'self' data: blob: {extra_origin}") + \
        f"; connect-src 'self' {extra_origin}"


DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the office's other hosts are not ours to decide
COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


class SecurityHeaders:
    """Adds the headers to every HTTP response; `docs` relaxes the policy of the docs pages, `hsts`
    announces Strict-Transport-Security (also sent whenever the request came over https)."""

    def __init__(self, app: ASGIApp, *, docs: bool, hsts: bool, api_prefix: str = "/api/",
                 dashboard_prefix: str = "/dashboard/", basemap_origin: str | None = None) -> None:
        self.app, self.docs, self.hsts, self.api_prefix = app, docs, hsts, api_prefix
        self.dashboard_prefix, self.dashboard_csp = dashboard_prefix, strict_csp(basemap_origin)

    def headers_for(self, path: str, scheme: str) -> dict[str, str]:
        csp = (DOCS_CSP if self.docs and path in DOCS_PATHS
               else self.dashboard_csp if path.startswith(self.dashboard_prefix) else STRICT_CSP)
        headers = {**COMMON, "content-security-policy": csp}
        if path.startswith(self.api_prefix):
            headers["cache-control"] = "no-store"
        if self.hsts or scheme == "https":
            headers["strict-transport-security"] = HSTS
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope["path"], scope.get("scheme", "http"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
