"""The dashboard as the server serves it: / leads there, the files are public and under the strict
policy (widened only by the configured basemap origin), the config is behind the token."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from server.auth.enums import Role
from server.dashboard.views import STATIC
from server.headers import STRICT_CSP
from server.main import create_app
from tests import factories
from tests.conftest import NOW

TIANDITU = ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
            "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY")


def test_root_leads_to_the_dashboard_whose_files_are_public(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "指挥中心" in page.text
    assert page.headers["content-security-policy"] == STRICT_CSP
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline: the policy allows none
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert client.get(f"/dashboard/{src}").status_code == 200, src
    module = client.get("/dashboard/js/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]


def test_every_vendored_library_has_its_licence() -> None:
    vendor = STATIC / "vendor"
    for lib in ("maplibre-gl", "echarts"):
        assert list((vendor / lib).glob("LICENSE*")), lib
    assert "maplibre-gl" in (vendor / "VERSIONS").read_text() and "echarts" in (vendor / "VERSIONS").read_text()


def test_config_needs_a_token_and_gives_the_server_date(client, db_session) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/dashboard/config").status_code == 401
    factories.tree(db_session)
    cfg = client.get("/api/v1/dashboard/config", headers=factories.auth_headers(factories.user(db_session, Role.auditor)))
    assert cfg.status_code == 200
    body = cfg.json()
    assert body["today"] == NOW.date().isoformat() and body["timezone"] == "Asia/Shanghai"
    assert body["basemap"]["url"] == ""  # offline by default


def test_a_configured_basemap_is_the_one_outside_origin_admitted(settings_env, db_session) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_BASEMAP_URL=TIANDITU, GRIDOPS_BASEMAP_ATTRIBUTION="天地图")
    with TestClient(create_app()) as c:
        csp = c.get("/dashboard/").headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://t0.tianditu.gov.cn;" in csp
        assert csp.endswith("connect-src 'self' https://t0.tianditu.gov.cn")
        assert c.get("/api/v1/health").headers["content-security-policy"] == STRICT_CSP  # the API stays strict
