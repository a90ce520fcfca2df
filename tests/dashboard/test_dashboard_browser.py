"""The dashboard in a real browser, as its users meet it: the command center logs in, sees the grids
coloured by an indicator, changes it, opens an overdue event and dispatches it while a second screen
sees the queue change through the feed; a device's status change recolours its point; wall mode
keeps map clicks true; a grid worker is refused, an auditor gets no actions, a street admin sees
only their street. Every main view is saved as a screenshot (SHOTS)."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.devices import service as devices
from tests import factories
from tests.dashboard.conftest import OVERDUE_DESCRIPTION, PASSWORD, Page

SEED_003 = Path(__file__).resolve().parents[1] / "metrics" / "data" / "seed_003.xlsx"  # a real declaration
LIVE_S = 10.0  # a change reaches an open screen through a feed within this


def _until(p: Any, expression: str, timeout: float = LIVE_S) -> float:
    """Polls `expression` in the page until truthy; seconds waited. (Playwright's wait_for_function
    evaluates a string, which the page's policy forbids: no 'unsafe-eval', as intended.)"""
    start = time.monotonic()
    while not p.evaluate(expression):
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {expression}"
        time.sleep(0.05)
    return time.monotonic() - start


def _idle(p: Any, first: str = "") -> None:
    """Runs `first` on the map `m`, then waits for its next idle (a repaint is asked, so one comes)."""
    p.evaluate(f"new Promise(r => {{ const m = window.gridops.map; {first} m.once('idle', r); m.triggerRepaint(); }})")


def _rendered_codes(p: Any) -> set[str]:
    return set(p.evaluate("window.gridops.map.queryRenderedFeatures({layers: ['grids-fill']}).map(f => f.properties.code)"))


def _outlines(p: Any, level: str) -> set[str]:
    """The codes of the street or community outlines the map holds (its source, tile by tile) and the
    check that their line layer draws some."""
    _idle(p)
    assert p.evaluate(f"window.gridops.map.queryRenderedFeatures({{layers: ['{level}-outline']}}).length") > 0
    return set(p.evaluate(f"window.gridops.map.querySourceFeatures('{level}-outlines').map(f => f.properties.code)"))


def _outline_width(p: Any, level: str) -> float:
    return p.evaluate(f"window.gridops.map.getPaintProperty('{level}-outline', 'line-width')")


def _pick_indicator(p: Any, code: str) -> str:
    p.select_option("#indicator-select", code)
    _until(p, f"document.getElementById('map').dataset.indicator === '{code}'")
    _idle(p)
    return p.get_attribute("#map", "data-colours") or ""


def _pixel(p: Any, lon: float, lat: float) -> tuple[int, int, int]:
    """The colour the map draws at lon/lat: the canvas as the user sees it, not the page's data."""
    x, y = p.evaluate(f"(() => {{ const q = window.gridops.map.project([{lon}, {lat}]); const r = "
                      "window.gridops.map.getContainer().getBoundingClientRect(); return [q.x + r.left, q.y + r.top]; })()")
    img = Image.open(io.BytesIO(p.screenshot(clip={"x": x - 1, "y": y - 1, "width": 3, "height": 3}))).convert("RGB")
    return img.getpixel((1, 1))


def _open_overdue(p: Any, world: dict[str, Any]) -> None:
    p.click("#queue-tabs button[data-view='overdue']")
    p.fill("#queue-filters input[name='grid_code']", world["first_grid"])
    p.dispatch_event("#queue-filters input[name='grid_code']", "change")
    _until(p, f"[...document.querySelectorAll('#queue li.item .row2')].every(e => e.textContent.startsWith('{world['first_grid']}'))")
    p.click(f"#queue li[data-uuid='{world['overdue_uuid']}']")
    p.wait_for_selector(f"#event-detail:not([hidden]) >> text={OVERDUE_DESCRIPTION}")


def test_command_center_colours_the_map_and_dispatches_an_overdue_event(open_page, server) -> None:  # type: ignore[no-untyped-def]
    _, world = server
    tab = open_page()
    tab.page.wait_for_selector("#login-form")
    tab.shot("01-login")
    p = tab.login("command")
    grids = _rendered_codes(p)
    assert len(grids) == 288  # the whole demo district on the map
    assert _outlines(p, "street") == {g[:9] + "000" for g in grids}  # outlined over the grids
    assert _outlines(p, "community") == {g[:12] for g in grids}
    assert p.text_content("#user-label") == "指挥中心值班员（指挥中心）"
    p.select_option("#level-select", "community")  # the level's own outline stands out
    _until(p, "window.gridops.map.getPaintProperty('community-outline', 'line-width') === 2.4")
    assert _outline_width(p, "street") == 3
    p.select_option("#level-select", "grid")
    _until(p, "window.gridops.map.getPaintProperty('community-outline', 'line-width') === 1.6")
    assert p.input_value("#period-select") == "2026-11"  # the server's month, not the browser's
    closure = _pick_indicator(p, "closure_rate")
    before = Image.open(io.BytesIO(p.locator("#map").screenshot())).convert("RGB").getcolors(1 << 24)
    visits = _pick_indicator(p, "visits_per_worker_month")
    after = Image.open(io.BytesIO(p.locator("#map").screenshot())).convert("RGB").getcolors(1 << 24)
    assert closure != visits, (closure, visits)  # other grids met, other colours
    assert sorted(before) != sorted(after)
    assert "人均月巡查走访" in p.text_content("#legend") and "目标" in p.text_content("#legend")
    tab.shot("02-overview")

    watcher = open_page()  # a second screen, watching the overdue queue: it must follow without a reload
    w = watcher.login("admin")
    _open_overdue(w, world)
    row = f"#queue li[data-uuid='{world['overdue_uuid']}']"
    assert w.get_attribute(row, "data-state") == "accepted"

    _open_overdue(p, world)
    assert int(p.text_content("#count-overdue")) >= 1
    assert "超期" in p.text_content(f"{row} .tag")
    _idle(p)
    tab.shot("03-event-detail")
    p.click("#event-actions button[data-action='dispatched']")
    p.fill(".action-form input[name='dispatched_to']", "城管执法中队")
    p.click(".action-form button[type='submit']")
    p.wait_for_selector(f"{row}[data-state='dispatched']", timeout=LIVE_S * 1000)
    assert "城管执法中队" in p.text_content("#event-detail")
    assert "已派遣" in p.text_content("#event-detail .history")
    w.wait_for_selector(f"{row}[data-state='dispatched']", timeout=LIVE_S * 1000)  # through the event feed

    p.click(".tabs button[data-tab='board']")
    p.wait_for_selector("#board-table tbody tr[data-code='closure_rate']")
    _until(p, "document.getElementById('trend-chart').dataset.code === 'closure_rate'")
    p.click("#board-table tr[data-code='on_time_closure_rate'] >> text=明细")
    p.wait_for_selector("#drilldown table")
    assert p.locator("#board-table tbody tr").count() >= 10
    tab.shot("04-board", full_page=True)

    p.click(".tabs button[data-tab='downloads']")
    with p.expect_download() as dl:
        p.click("#dl-events")
    assert dl.value.suggested_filename == "events.xlsx"
    with p.expect_download() as dl:
        p.click("#dl-devices")
    assert dl.value.suggested_filename == "devices.csv"
    assert open(dl.value.path(), encoding="utf-8-sig").read().count("\n") == 288  # a header and 288 devices
    with p.expect_download(timeout=60_000) as dl:
        p.click("#dl-weekly")
    assert dl.value.suggested_filename.endswith(".docx")
    p.set_input_files("#selfeval-form input[name='declaration']", str(SEED_003))
    with p.expect_download(timeout=60_000) as dl:
        p.click("#selfeval-form button[type='submit']")
    assert dl.value.suggested_filename == "self-evaluation-2026.xlsx"
    p.set_input_files("#monitoring-form input[name='declaration']", files=[{  # no workbook: the job says why
        "name": "申报表.xlsx", "mimeType": "application/octet-stream", "buffer": b"not a workbook"}])
    p.click("#monitoring-form button[type='submit']")
    p.wait_for_selector(".job.failed")
    assert "失败" in p.text_content(".job.failed") and p.locator(".job.done").count() == 4
    tab.shot("05-downloads")

    token = p.evaluate("sessionStorage.getItem('gridops.token')")
    assert token and not [u for u in tab.requests if token in u or "access_token" in u]  # never in a URL
    assert tab.errors == [] and watcher.errors == []  # nothing refused by the CSP, no script error


def test_wall_mode_scales_and_map_clicks_still_hit_their_grid(open_page, server) -> None:  # type: ignore[no-untyped-def]
    _, world = server
    tab = open_page(width=1920, height=1080)
    p = tab.login("command")
    p.click("#wall-toggle")
    _until(p, "document.body.classList.contains('wall')")
    _idle(p, "m.resize();")
    lon, lat = world["probe"]
    x, y = p.evaluate(f"(() => {{ const q = window.gridops.map.project([{lon}, {lat}]); const r = "
                      "window.gridops.map.getContainer().getBoundingClientRect(); return [q.x + r.left, q.y + r.top]; })()")
    p.mouse.click(x, y)
    p.wait_for_selector(f"#grid-card:not([hidden])[data-code='{world['first_grid']}']")
    tab.shot("06-wall")
    p.set_viewport_size({"width": 1280, "height": 720})  # a smaller screen: the layout scales, clicks stay true
    _idle(p, "m.resize();")
    p.click("#grid-card .close")
    x, y = p.evaluate(f"(() => {{ const q = window.gridops.map.project([{lon}, {lat}]); const r = "
                      "window.gridops.map.getContainer().getBoundingClientRect(); return [q.x + r.left, q.y + r.top]; })()")
    p.mouse.click(x, y)
    p.wait_for_selector(f"#grid-card:not([hidden])[data-code='{world['first_grid']}']")
    assert tab.errors == []


def test_a_device_status_change_recolours_its_point(open_page, server, dashboard_db) -> None:  # type: ignore[no-untyped-def]
    url, world = dashboard_db
    tab = open_page()
    p = tab.login("command")
    assert int(p.get_attribute("body", "data-devices")) == 288
    lon, lat = world["camera_at"]
    _idle(p, f"m.jumpTo({{center: [{lon}, {lat}], zoom: 17}});")
    status = (f"(() => {{ const m = window.gridops.map; const q = m.project([{lon}, {lat}]); "
              "const f = m.queryRenderedFeatures([[q.x - 3, q.y - 3], [q.x + 3, q.y + 3]], {layers: ['device-points']}); "
              "return f.length ? f[0].properties.status : null; })()")
    assert p.evaluate(status) == "online"
    green = _pixel(p, lon, lat)
    assert green[1] > green[0] + 40, green

    engine = make_engine(url)
    with Session(engine) as s:
        device = devices.get_by_code(db_session=s, code=world["camera"])
        factories.device_status(s, device, "offline", datetime.now(UTC))
        s.commit()
    engine.dispose()
    latency = _until(p, f"{status} === 'offline'")
    red = _pixel(p, lon, lat)
    assert red[0] > red[1] + 40, red
    assert "离线" in p.text_content("#ticker") and int(p.get_attribute("body", "data-beeps") or 0) >= 1  # the alarm
    tab.shot("07-device-offline")
    assert latency < LIVE_S and tab.errors == []


def test_a_grid_worker_is_sent_to_the_app(open_page) -> None:  # type: ignore[no-untyped-def]
    tab = open_page()
    p = tab.login("w001", ready=False)
    p.wait_for_selector("#login-message >> text=网格员请使用网格员手机应用")
    assert p.is_hidden("#app-view") and p.evaluate("sessionStorage.getItem('gridops.token')") is None
    tab.shot("08-grid-worker-refused")


def test_an_auditor_sees_everything_and_can_change_nothing(open_page, server) -> None:  # type: ignore[no-untyped-def]
    _, world = server
    tab = open_page()
    p = tab.login("auditor")
    assert len(_rendered_codes(p)) == 288
    _open_overdue(p, world)
    assert p.locator("#event-actions button").count() == 0
    assert p.is_hidden("#dl-weekly")


def test_a_street_admin_sees_only_their_street(open_page, server) -> None:  # type: ignore[no-untyped-def]
    _, world = server
    tab = open_page()
    p = tab.login("street02")
    codes = _rendered_codes(p)
    assert len(codes) == world["street2_grids"] and all(c.startswith("440112002") for c in codes)
    assert _outlines(p, "street") == {"440112002000"}
    assert _outlines(p, "community") == {c[:12] for c in codes}
    p.click("#queue-tabs button[data-view='all']")
    _until(p, "document.getElementById('queue').dataset.view === 'all'")
    grids = [t.split(" ")[0] for t in p.locator("#queue li.item .row2").all_text_contents()]
    assert grids and all(g.startswith("440112002") for g in grids)
    assert int(p.get_attribute("body", "data-devices")) == world["street2_grids"]
    assert p.locator("#level-select option[value='street']").count() == 0
    tab.shot("09-street-admin")


def test_after_a_lost_connection_the_page_says_so_and_catches_up(browser, dashboard_db, live_server) -> None:  # type: ignore[no-untyped-def]
    url, world = dashboard_db
    base = live_server(url, GRIDOPS_MQTT_EMBEDDED="false", GRIDOPS_DASHBOARD_FEED_SECONDS="3")  # streams end often
    tab = Page(browser, base)
    p = tab.login("command")
    tab.context.set_offline(True)  # the network drops: the next reconnection fails
    _until(p, "document.getElementById('feed-status').classList.contains('down')", timeout=30)
    assert "中断" in p.text_content("#feed-status")
    lon, lat = world["probe"]
    with httpx.Client(base_url=base, timeout=30) as c:  # meanwhile a grid worker reports
        token = c.post("/api/v1/auth/token", data={"username": "w001", "password": PASSWORD}).json()["access_token"]
        body = factories.event_body(None, lon=lon, lat=lat, description="断线期间上报的事件")
        assert c.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 201
    tab.context.set_offline(False)
    _until(p, "document.getElementById('feed-status').classList.contains('live')", timeout=30)
    p.wait_for_selector(f"#queue li[data-uuid='{body['uuid']}']", timeout=LIVE_S * 1000)  # re-read, not stale
    tab.close()


def test_an_initial_password_is_changed_before_anything_is_shown(open_page, server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    username, initial, new = f"duty{uuid.uuid4().hex[:6]}", "Zhiban#Initial26", "Zhiban#Changed26"
    with httpx.Client(base_url=base, timeout=30) as c:  # the district admin creates an account: initial password
        token = c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        r = c.post("/api/v1/auth/users", headers={"Authorization": f"Bearer {token}"}, json={
            "username": username, "full_name": "新值班员", "password": initial, "role": "command_center",
            "district_code": "440112"})
        assert r.status_code == 201, r.text
    tab = open_page()
    p = tab.page
    p.fill("#login-username", username)
    p.fill("#login-password", initial)
    p.click("#login-submit")
    p.wait_for_selector("#password-form:not([hidden])")
    assert p.is_hidden("#app-view") and p.input_value("#password-form input[name='current']") == initial
    p.fill("#password-form input[name='new']", new)
    p.fill("#password-form input[name='again']", new + "x")
    p.click("#password-form button[type='submit']")
    p.wait_for_selector("#password-message >> text=不一致")
    tab.shot("10-password-change")
    p.fill("#password-form input[name='again']", new)
    p.click("#password-form button[type='submit']")
    p.wait_for_selector("body[data-ready='1']", timeout=60_000)
    assert tab.errors == []
