"""The app's logic against a real running server: log in, report with photos, record handling,
a rejection kept with the server's reason and fixed, a visit and its verdict, the app session."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.datum import wgs84_to_gcj02
from mobile.location import Fix
from mobile.service import AppService
from mobile.sync import Backoff
from mobile.track import distance_m
from server.auth.models import AppSession
from tests import factories
from tests.mobile.conftest import PASSWORD, World, cell_fix, jpeg
from tests.mobile.flaky_proxy import FlakyProxy


def _phone(tmp_path: Path, world: World, who: str = "worker_a", **kw) -> AppService:  # type: ignore[no-untyped-def]
    app = AppService(tmp_path / f"phone-{who}", **kw)
    result = app.login(world.base, world.users[who].username, PASSWORD)
    assert result.ok and result.error is None
    return app


def test_login_caches_what_the_app_needs_offline(tmp_path: Path, world: World) -> None:
    app = _phone(tmp_path, world)
    assert app.is_logged_in()
    assert app.user() == {"username": world.users["worker_a"].username, "name": world.users["worker_a"].full_name,
                          "role": "grid_worker", "grid_codes": [world.grids["A"].code]}
    cats = app.categories()
    sanitation = next(c for c in cats if c["code"] == "sanitation")
    assert {"code": "sanitation.garbage", "name": "垃圾堆放"} in sanitation["children"]
    assert [f["id"] for f in app.my_grids_geojson()["features"]] == [world.grids["A"].code]
    wrong = AppService(tmp_path / "other").login(world.base, world.users["worker_a"].username, "wrong-password")
    assert not wrong.ok and wrong.error == "用户名或密码错误"


def test_a_password_set_by_the_admin_is_changed_in_the_app(tmp_path: Path, world: World) -> None:
    with world.admin() as admin:
        assert admin.post("/auth/users", json={"username": "new-worker", "full_name": "新网格员", "password": "initial-123",
                                               "role": "grid_worker", "street_code": factories.STREET}).status_code == 201
    app = AppService(tmp_path / "phone")
    first = app.login(world.base, "new-worker", "initial-123")
    assert first.ok and first.must_change_password and app.must_change_password()
    assert app.change_password("wrong-pass", "mine-456789") == "当前密码错误"
    assert app.change_password("initial-123", "short") == "新密码至少8位"
    assert app.change_password("initial-123", "mine-456789") is None and not app.must_change_password()
    again = AppService(tmp_path / "other-phone").login(world.base, "new-worker", "mine-456789")
    assert again.ok and not again.must_change_password


def test_report_with_photos_arrives_once_complete_and_handling_is_recorded(tmp_path: Path, world: World) -> None:
    app = _phone(tmp_path, world)
    photos = [jpeg(tmp_path / f"p{i}.jpg", seed=i) for i in range(2)]
    centre = cell_fix(0, 0)
    lon, lat = wgs84_to_gcj02(centre.lon, centre.lat)  # what a Chinese map SDK hands the app: ~500 m off
    fix = Fix(lon, lat, 8.0, "gcj02", "amap", centre.time, mock=True)
    assert app.location_check(fix).quality == "mock"
    uuid = app.report_event(category_code="sanitation.garbage", description="楼下垃圾堆放", photos=photos, fix=fix)
    assert [r["sync_state"] for r in app.my_work() if r["uuid"] == uuid] == ["queued"]

    report = app.sync_now()
    assert (report.failed, report.pending, report.offline) == (0, 0, False)
    with world.admin() as admin:
        event = admin.get(f"/events/{uuid}").json()
        assert event["grid_code"] == world.grids["A"].code and event["location_mock"] is True
        assert distance_m(event["lon"], event["lat"], centre.lon, centre.lat) < 0.5  # the server converted
        keys = [q.local_id for q in app.queue_status() if q.kind == "photo"]
        assert event["photos"] == keys and len(keys) == 2  # sent first without them, then completed
        assert [h["kind"] for h in event["history"]] == ["create", "photos"]
        assert app.sync_now().sent == 0  # nothing sent twice
        for state, extra in (("accepted", {}), ("dispatched", {"dispatched_to": "城管"})):
            assert admin.post(f"/events/{uuid}/transitions", json={"to_state": state, **extra}).status_code == 200

    app.sync_now()  # refreshes my work through the change feed
    mine = next(r for r in app.my_work() if r["uuid"] == uuid)
    assert (mine["state"], mine["state_zh"]) == ("dispatched", "已派遣") and mine["deadline"]
    assert app.record_handled(uuid, "已清理") is None
    assert app.sync_now().failed == 0
    detail = app.event_detail(uuid)
    assert detail["state"] == "handled" and detail["history"][-1]["note"] == "已清理"
    assert app.record_handled(uuid, "再次") == "事件当前状态为“已处置”，不能登记处置"
    with Session(world.engine) as s:
        sessions = s.scalars(select(AppSession).where(AppSession.user_id == world.users["worker_a"].id)).all()
        assert len(sessions) == 1 and sessions[0].syncs == 4


def test_a_refusal_is_kept_with_the_servers_reason_until_fixed(tmp_path: Path, world: World) -> None:
    app = _phone(tmp_path, world)
    outside = app.report_event(category_code="sanitation.garbage", description="井盖缺失", photos=[],
                               fix=cell_fix(30, 30))
    inside = app.report_event(category_code="sanitation.garbage", description="垃圾", photos=[], fix=cell_fix(0, 0))
    report = app.sync_now()
    assert (report.sent, report.failed) == (1, 1)
    failed = next(q for q in app.queue_status() if q.local_id == outside)
    assert failed.state == "failed" and failed.reason and failed.reason.startswith("上报位置不在任何网格内")
    assert next(q for q in app.queue_status() if q.local_id == inside).state == "sent"
    attempts = failed.attempts
    app.sync_now()  # a refused row is not sent again by itself
    assert next(q for q in app.queue_status() if q.local_id == outside).attempts == attempts

    with world.admin() as admin:  # a category retired after the worker picked it
        assert admin.put("/events/categories/sanitation.garbage",
                         json={"name": "垃圾堆放", "parent_code": "sanitation", "active": False}).status_code == 200
    fix = cell_fix(0, 0)
    app.fix_event(outside, lon=fix.lon, lat=fix.lat)
    app.sync_now()
    retired = next(q for q in app.queue_status() if q.local_id == outside)
    assert retired.state == "failed" and retired.reason == "事件类别 sanitation.garbage 不存在"
    app.fix_event(outside, category_code="sanitation")
    assert app.sync_now().failed == 0
    with world.admin() as admin:
        assert admin.get(f"/events/{outside}").json()["category_code"] == "sanitation"


def test_a_visit_with_its_track_and_check_ins_gets_the_servers_verdict(tmp_path: Path, world: World) -> None:
    clock = [datetime.now(UTC) - timedelta(minutes=40)]
    app = _phone(tmp_path, world, now=lambda: clock[0])
    start = clock[0]
    app.start_visit(cell_fix(0, 0, at=start))
    for minute in range(1, 16):  # a fix every 10 s: 5 minutes standing, then walking 5 m per fix in grid A
        for tick in range(6):
            t = start + timedelta(minutes=minute, seconds=tick * 10)
            walked = max(0, (minute - 6) * 6 + tick) * 5.0
            app.add_track_point(cell_fix(0, 0, at=t, dx=(walked % 80) / 100 - 0.4))
        if minute == 5:
            clock[0] = t
            app.check_in(target_kind="household", target_id="3栋201", note="入户走访", fix=None)
        if minute == 9:
            app.check_in(target_kind="rental", target_id="R-17", note="出租屋检查", fix=cell_fix(0, 0, at=t))
    clock[0] = start + timedelta(minutes=16)
    uuid = app.end_visit()
    kept = len(app.store.points(uuid))
    # 90 fixes thinned: standing, one a minute; walking, about one per 10 m; the start and 2 check-ins
    assert 26 <= kept <= 36, kept
    short = app.start_visit(cell_fix(0, 0, at=clock[0]))
    clock[0] += timedelta(minutes=3)
    app.end_visit(cell_fix(0, 0, at=clock[0]))
    assert app.sync_now().failed == 0
    visits = {v["uuid"]: v for v in app.visits()}
    assert visits[uuid]["counted"] is True and visits[uuid]["minutes"] == 16.0
    assert (visits[short]["counted"], visits[short]["not_counted_reason"]) == (False, "too_short")
    with world.admin() as admin:
        server = admin.get(f"/visits/{uuid}").json()
    assert server["households"] == ["3栋201", "出租屋:R-17"] and len(server["points"]) == kept
    assert "出租屋 R-17：出租屋检查" in server["notes"]


def test_offline_nothing_is_lost_and_a_busy_server_is_waited_for(tmp_path: Path, world: World) -> None:
    app = _phone(tmp_path, world, backoff=Backoff(base_s=0.05, cap_s=0.2))
    made = [app.report_event(category_code="sanitation.garbage", description=f"第{i}件", photos=[],
                             fix=cell_fix(0, 0)) for i in range(3)]
    app.server_url = "http://127.0.0.1:9"  # nothing listens: the phone is offline
    offline = app.sync_now(max_seconds=0.5)
    assert offline.offline and offline.pending == 3 and offline.errors == ["网络不可用，未发送的记录已保留，将自动重试"]
    waiting = app.queue_status()
    assert {(q.state, q.reason) for q in waiting} == {("queued", "网络不可用，稍后自动重试")}

    with FlakyProxy(int(world.base.rsplit(":", 1)[1]), drop_every=10_000, busy=("/api/v1/events", 1)) as proxy:
        app.server_url = proxy.url
        started = time.monotonic()
        report = app.sync_now()
        assert time.monotonic() - started >= 1.0  # the server's Retry-After, not the 0.05 s backoff
    assert (report.sent, report.pending, proxy.counts.busy) == (3, 0, 1)
    with world.admin() as admin:
        assert [admin.get(f"/events/{u}").status_code for u in made] == [200] * 3

    app.store.put("token", "expired-or-revoked")
    app.report_event(category_code="sanitation.garbage", description="又一件", photos=[], fix=cell_fix(0, 0))
    app.server_url = world.base
    stale = app.sync_now()
    assert stale.errors == ["登录已过期，请重新登录后同步"] and stale.pending == 1
