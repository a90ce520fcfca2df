"""The app's screens driven like a worker's thumb, against a real gridops server.

Runs under Xvfb with a real GL context (`./dev test` runs this folder in its own process:
Kivy's Window is global):

    xvfb-run -a -s "-screen 0 1280x720x24 +extension GLX" python -m pytest tests/mobile/ui

Without a display (or with KIVY_GL_BACKEND=mock) GraphicUnitTest is a plain object and pytest
collects nothing here. GRIDOPS_MOBILE_SCREENSHOTS=docs/mobile keeps the screenshots (one per
screen) where README shows them; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_CLIPBOARD", "sdl2")  # not xclip/xsel (not installed)

import httpx  # noqa: E402
import pytest  # noqa: E402
from kivy.tests.common import GraphicUnitTest, UnitTestTouch  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from mobile.location import Fix  # noqa: E402
from server.database.core import make_engine  # noqa: E402
from server.database.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import PG_URL, fresh_database_url  # noqa: E402

WAIT_S = 60.0  # one sync against the local server takes well under a second; this is the hang guard


class AppOnServer(GraphicUnitTest):
    """Log in, report an event with a photo (point picked on the map), do a visit; both arrive."""

    @pytest.fixture(autouse=True)
    def _fixtures(self, live_server: Callable[..., str], tmp_path: Path) -> None:
        self.start_server, self.tmp = live_server, tmp_path

    # ---------------------------------------------------------------- plumbing
    def wait(self, until: Callable[[], bool] | None = None, what: str = "") -> None:
        """Frames until every service call has come back (and `until` holds)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            self.advance_frames(1)
            if self.app.runner.idle and not self.app.syncing and (until is None or until()):
                self.advance_frames(2)  # let the layout settle for the screenshot
                return
            time.sleep(0.01)
        import faulthandler
        import sys

        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)  # where the service thread is
        print(f"pending={self.app.runner.pending} syncing={self.app.syncing}", file=sys.stderr)
        seen = self.shot("timed_out")
        raise AssertionError(f"timed out waiting for {what or 'the service'} (the screen then: {seen})")

    def tap(self, widget: Any) -> None:
        """A finger on the widget's centre, after scrolling it into view as the worker would."""
        from kivy.uix.scrollview import ScrollView

        parent = widget.parent
        while parent is not None and not isinstance(parent, ScrollView) and parent.parent is not parent:
            parent = parent.parent  # (the Window is its own parent)
        if isinstance(parent, ScrollView):
            parent.scroll_to(widget, padding=10, animate=False)
        # a popup on its way out still takes every touch: wait until it is gone, unless the target is in it
        from kivy.uix.modalview import ModalView

        node, in_popup = widget, False
        while node is not None and node.parent is not node and not in_popup:
            in_popup, node = isinstance(node, ModalView), node.parent
        end = time.monotonic() + 3
        while not in_popup and any(isinstance(c, ModalView) for c in self.Window.children) and time.monotonic() < end:
            self.frames_for(0.05)
        # a touch while the view still moves only stops it (Kivy's rule, a finger's too)
        end, where = time.monotonic() + 3, None
        while where != widget.to_window(*widget.center) and time.monotonic() < end:
            where = widget.to_window(*widget.center)
            self.frames_for(0.05)
        self.press(*widget.to_window(*widget.center))

    def press(self, x: float, y: float) -> None:
        """Down, hold a third of a second, up: a ScrollView decides click-or-scroll on a timer."""
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames_for(0.3)
        touch.touch_up()
        self.frames_for(0.3)

    def frames_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.advance_frames(1)
            time.sleep(0.01)

    def shot(self, name: str, top: bool = False) -> Path:
        """The window as a PNG (toasts removed: they would hide the screen they comment on)."""
        from kivy.uix.scrollview import ScrollView

        from mobile.ui.widgets import Toast

        for child in list(self.Window.children):
            if isinstance(child, Toast):
                self.Window.remove_widget(child)
        if top:
            for view in self.app.manager.current_screen.walk():
                if isinstance(view, ScrollView):
                    view.scroll_y = 1
        self.advance_frames(3)
        folder = Path(os.environ.get("GRIDOPS_MOBILE_SCREENSHOTS") or self.tmp)
        folder.mkdir(parents=True, exist_ok=True)
        written = Path(self.Window.screenshot(str(self.tmp / f"{name}.png")))  # Kivy numbers the file
        target = folder / f"{name}.png"
        shutil.move(written, target)
        return target

    def fix(self, lon: float, lat: float, accuracy_m: float = 6.0) -> Fix:
        return Fix(lon=lon, lat=lat, accuracy_m=accuracy_m, datum="wgs84", provider="gps", time=self.clock["now"])

    # ------------------------------------------------------------------- story
    def run_story(self, backend: str) -> None:
        url = fresh_database_url(backend, self.tmp, "gridops_mobile_ui")
        upgrade(url)
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as s:
            world = factories.event_world(s)
            world["users"]["worker_a"].must_change_password = True  # as after an administrator's reset
            s.commit()
        engine.dispose()
        worker, admin = world["users"]["worker_a"], world["users"]["admin"]
        base = self.start_server(url)
        server = httpx.Client(base_url=base, headers=factories.auth_headers(admin), timeout=30)
        self.addCleanup(server.close)
        registered = server.post("/api/v1/key-persons", json={  # overdue for a visit: offered at the check-in
            "type_code": "mental_health", "name": "张三丰", "address": "黄埔东路1号3栋201",
            "grid_code": "440112001001001", "registered_at": (datetime.now(UTC) - timedelta(days=45)).isoformat()})
        assert registered.status_code == 201, registered.text
        person_id = registered.json()["id"]

        # The phone's clock: the visit below lasts 30 minutes of it, ending 5 minutes ago.
        self.clock = {"now": datetime.now(UTC) - timedelta(minutes=40)}
        from mobile.service import AppService
        from mobile.ui.app import GridOpsApp
        from mobile.ui.location_source import DesktopLocation

        data_dir = Path(tempfile.mkdtemp(prefix="gridops-app-", dir=self.tmp))
        self.Window.size = (420, 720)
        now = lambda: self.clock["now"]  # noqa: E731
        self.app = GridOpsApp(service_factory=lambda: AppService(data_dir, now=now), location=DesktopLocation(now),
                              now=now, auto_sync_seconds=0)
        # on_stop stops the service thread and releases kv's cached `app` for the next test's app
        self.addCleanup(self.app.dispatch, "on_stop")
        root = self.app.build()
        self.render(root)
        self.wait(lambda: self.app.manager.current == "login", "the log-in screen")

        # 登录
        login = self.app.manager.get_screen("login")
        login.ids.server.text, login.ids.username.text, login.ids.password.text = base, worker.username, "wrong"
        self.tap(login.ids.submit)
        self.wait(lambda: bool(login.error), "the refusal")
        assert self.app.manager.current == "login" and login.error  # the server's Chinese message
        login.ids.password.text = factories.PASSWORD
        self.shot("login")
        self.tap(login.ids.submit)
        self.wait(lambda: self.app.manager.current == "password", "the forced password change")
        password = self.app.manager.get_screen("password")
        password.ids.new.text, password.ids.again.text = "short", "short"
        self.tap(password.ids.submit)
        self.wait(lambda: bool(password.error), "the refusal of a short password")
        assert self.app.manager.current == "password" and "至少 10 个字符" in password.error, password.error
        password.ids.new.text = password.ids.again.text = "Grid-2026-new"
        self.shot("password")
        self.tap(password.ids.submit)
        self.wait(lambda: self.app.manager.current == "report", "the log-in")
        assert worker.username in self.app.user_line or worker.full_name in self.app.user_line

        # 上报事件: category, description, a photo from the file chooser, a point on the map
        report = self.app.manager.get_screen("report")
        self.wait(lambda: bool(report.categories) and report.grids is not None, "the cached catalogue and grids")
        parent = next(c for c in report.categories if any(ch["code"] == "sanitation.garbage" for ch in c["children"]))
        report.ids.level1.text = parent["name"]
        report.ids.level2.text = next(ch["name"] for ch in parent["children"] if ch["code"] == "sanitation.garbage")
        report.ids.description.text = "3栋楼下垃圾堆放，已两天无人清运"
        photo_dir = self.tmp / "相册"
        photo_dir.mkdir()
        Image.new("RGB", (1600, 1200), (120, 160, 90)).save(photo_dir / "IMG_0001.jpg", quality=90)
        self.tap(report.ids.add_photo)
        report.chooser.path = str(photo_dir)
        report.chooser.selection = [str(photo_dir / "IMG_0001.jpg")]
        self.advance_frames(2)
        self.tap(next(w for w in report.chooser.parent.walk() if getattr(w, "text", "") == "添加所选照片"))
        assert [p.name for p in report.photos] == ["IMG_0001.jpg"]

        # a poor fix: the gate warns (ODK/QField style) before it is used
        centre = factories.gk_square(0, 0).centroid
        self.app.location.inject(self.fix(centre.x, centre.y, accuracy_m=85))
        self.wait(lambda: "85" in report.verdict_text, "the accuracy warning")
        assert not report.verdict_ok and "超过" in report.verdict_text
        self.tap(report.ids.submit)  # with that fix: the gate asks first
        from mobile.ui.widgets import Sheet

        gate = next(c for c in self.Window.children if isinstance(c, Sheet))
        texts = [getattr(w, "text", "").replace("\u00a0", " ") for w in gate.walk()]  # no-break spaces
        assert gate.title == "定位提醒" and "仍然上报" in texts and any("85 米" in t for t in texts), texts
        self.shot("gate")
        self.tap(next(w for w in gate.walk() if getattr(w, "text", "") == "去地图选点"))
        self.advance_frames(2)
        grid_map = report.grid_map
        x, y = grid_map.to_screen(centre.x, centre.y)
        self.press(*grid_map.to_window(x, y))
        assert grid_map.picked and abs(grid_map.picked[0] - centre.x) < 1e-4
        assert abs(grid_map.picked[1] - centre.y) < 1e-4
        self.shot("map")
        self.tap(next(w for w in report.map_popup.walk() if getattr(w, "text", "") == "使用此位置"))
        self.wait()
        assert report.picked and "地图选点" in report.fix_text
        self.shot("report", top=True)
        self.tap(report.ids.submit)
        self.wait(lambda: not report.busy, "the report to be queued and synced")

        def arrived() -> list[dict]:
            items = server.get("/api/v1/events", params={"page_size": 100}).json()["items"]
            return [e for e in items if e["description"] == "3栋楼下垃圾堆放，已两天无人清运"]

        for _ in range(5):  # the photo goes in its own queue: a pass or two more at most
            if arrived() and arrived()[0]["photos"]:
                break
            self.app.sync(quiet=True)
            self.wait()
        events = arrived()
        assert len(events) == 1, events  # exactly once
        event = events[0]
        assert event["reporter"] == worker.username and event["category_code"] == "sanitation.garbage"
        assert event["grid_code"] == "440112001001001" and len(event["photos"]) == 1

        # 我的工作: the event, its state and deadline, as the server has it now
        self.tap(next(w for w in root.ids.tabs.children if w.text == "我的工作"))
        work = self.app.manager.get_screen("work")
        self.wait(lambda: bool(work.items), "my work")
        assert any(i["uuid"] == event["uuid"] for i in work.items)
        rows = [w.text for w in work.ids.rows.children]
        assert any(event["state_zh"] in text and "垃圾" in text for text in rows), rows
        self.shot("work")
        self.tap(next(w for w in work.ids.rows.children if "垃圾" in w.text))
        self.wait(lambda: hasattr(work, "detail_popup"), "the event's detail")
        texts = [getattr(w, "text", "") for w in work.detail_popup.walk()]
        assert "处理经过：" in texts and any(event["state_zh"] in t for t in texts), texts  # the history
        self.shot("work_detail")
        work.detail_popup.dismiss(animation=False)
        self.advance_frames(2)

        # 巡查走访: start, walk 30 minutes through grid A, check in, end; the server counts it
        self.tap(next(w for w in root.ids.tabs.children if w.text == "巡查走访"))
        visit = self.app.manager.get_screen("visit")
        self.wait()
        minx, miny, maxx, maxy = factories.gk_square(0, 0).bounds
        self.app.location.inject(self.fix(minx + (maxx - minx) * 0.1, (miny + maxy) / 2))
        self.tap(visit.ids.start)
        self.wait(lambda: visit.running, "the visit to start")
        self.wait(lambda: bool(visit.people), "the cached key persons")
        for step in range(1, 7):
            self.clock["now"] += timedelta(minutes=5)
            self.app.location.inject(self.fix(minx + (maxx - minx) * (0.1 + 0.13 * step), (miny + maxy) / 2))
            self.wait()
            if step == 3:
                visit.ids.target_kind.text = "出租屋"
                visit.ids.target_id.text = "3栋201"
                visit.ids.note.text = "租客信息已核对"
                self.tap(visit.ids.check_in)
                self.wait(lambda: visit.checkins == 1, "the check-in")
            if step == 4:  # a key person, picked from the list of the worker's grids (masked, with due state)
                visit.ids.target_kind.text = "重点人员"
                self.wait()
                assert visit.ids.person.parent is visit.ids.target_box.__self__ and visit.ids.target_id.parent is None
                assert visit.person_labels == ["张** · 严重精神障碍患者 · 已逾期"], visit.person_labels
                visit.ids.person.is_open = True  # the list as the worker sees it
                self.advance_frames(2)
                self.shot("visit_key_person")
                visit.ids.person.is_open = False
                self.advance_frames(2)
                visit.ids.person.text = visit.person_labels[0]
                visit.ids.note.text = "情绪稳定，按时服药"
                self.tap(visit.ids.check_in)
                self.wait(lambda: visit.checkins == 2, "the key-person check-in")
        assert visit.points == 6 and "签到 2 处" in visit.elapsed_text
        self.shot("visit_running")
        self.tap(visit.ids.end)
        self.wait(lambda: not visit.running, "the visit to end and sync")
        self.wait(lambda: any("已计入" in getattr(w, "text", "") for w in visit.ids.visits.children), "the verdict")
        visits = server.get("/api/v1/visits").json()["items"]
        assert len(visits) == 1 and visits[0]["worker"] == worker.username, visits
        assert visits[0]["counted"] is True, visits[0]
        assert "出租屋:3栋201" in visits[0]["households"]
        person = server.get(f"/api/v1/key-persons/{person_id}").json()
        assert [u["visit_uuid"] for u in person["updates"]] == [visits[0]["uuid"]], person
        assert person["follow_up"] == "up_to_date"
        self.shot("visit")

        # 同步: everything sent, nothing failed
        self.tap(next(w for w in root.ids.tabs.children if w.text == "同步"))
        sync = self.app.manager.get_screen("sync")
        self.wait(lambda: bool(sync.summary), "the queue")
        assert "失败 0 条" in sync.summary and "待发送 0 条" in sync.summary, sync.summary
        self.shot("sync")

    def test_worker_day_on_spatialite(self) -> None:
        self.run_story("spatialite")

    @pytest.mark.skipif(not PG_URL, reason="GRIDOPS_TEST_POSTGRES_URL not set")
    def test_worker_day_on_postgis(self) -> None:
        self.run_story("postgis")
