"""The app shell: font, screens, the bottom navigation, background sync.

Screens are thin: they read and write only through `app.call(lambda svc: svc.…)`, which runs the
AppService (mobile/service.py) on its own thread (runner.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our argv is ours (python -m mobile --data-dir …), not Kivy's

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from mobile.clock import phone_now  # noqa: E402
from mobile.ui.fonts import register_default_font  # noqa: E402
from mobile.ui.location_source import LocationSource, default_source  # noqa: E402
from mobile.ui.runner import ServiceRunner  # noqa: E402

HERE = Path(__file__).resolve().parent
SCREENS = ("login", "password", "report", "work", "visit", "sync")  # one module + one .kv each
TABS = {"report": "上报事件", "work": "我的工作", "visit": "巡查走访", "sync": "同步"}
AUTO_SYNC_SECONDS = 60.0


def _service_factory(data_dir: Path, server_url: str | None, now: Callable[[], datetime]) -> Callable[[], Any]:
    def make() -> Any:
        from mobile.service import AppService

        return AppService(data_dir, server_url=server_url, now=now)

    return make


class GridOpsApp(App):
    """`GridOpsApp(data_dir=…, server_url=…)`; a test passes its own `service_factory` and `now`."""

    title = "网格员"
    screen_title = StringProperty("")
    user_line = StringProperty("")
    sync_line = StringProperty("")  # "待同步 3 条" in the top bar
    logged_in = BooleanProperty(False)
    syncing = BooleanProperty(False)
    location = ObjectProperty(None)

    def __init__(self, data_dir: Path | None = None, server_url: str | None = None,
                 service_factory: Callable[[], Any] | None = None, location: LocationSource | None = None,
                 auto_sync_seconds: float = AUTO_SYNC_SECONDS, now: Callable[[], datetime] = phone_now,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now
        self.server_url = server_url
        self._data_dir = data_dir
        self._service_factory = service_factory
        self.location = location or default_source(now)
        self.auto_sync_seconds = auto_sync_seconds
        self.runner: ServiceRunner | None = None
        self.manager: ScreenManager | None = None

    # ----------------------------------------------------------------- wiring
    @property
    def data_dir(self) -> Path:
        return self._data_dir or Path(self.user_data_dir)

    def build(self):  # type: ignore[no-untyped-def]
        register_default_font()
        _load_rules(HERE / "widgets.kv")
        from importlib import import_module

        for name in SCREENS:
            import_module(f"mobile.ui.screens.{name}")
            _load_rules(HERE / "screens" / f"{name}.kv")
        self.runner = ServiceRunner(self._service_factory
                                    or _service_factory(self.data_dir, self.server_url, self.now))
        root = _load_rules(HERE / "app.kv")
        self.manager = root.ids.manager
        self.manager.transition = NoTransition()  # instant: no frames to wait for, nothing to distract
        for name in SCREENS:
            cls = getattr(import_module(f"mobile.ui.screens.{name}"), f"{name.capitalize()}Screen")
            self.manager.add_widget(cls(name=name))
        self.call(lambda svc: svc.is_logged_in(), then=self._restore_session)
        return root

    def on_stop(self) -> None:
        if self.runner:
            self.runner.stop()
        self.location.stop()

    def call(self, job: Callable[[Any], Any], then: Callable[[Any], None] | None = None,
             error: Callable[[str], None] | None = None) -> None:
        assert self.runner is not None, "build() first"
        self.runner.call(job, then=then, error=error)

    # ------------------------------------------------------------- navigation
    def go(self, name: str) -> None:
        assert self.manager is not None
        self.manager.current = name
        self.screen_title = TABS.get(name, "登录" if name == "login" else "修改密码")

    def _restore_session(self, logged_in: bool) -> None:
        if logged_in:
            self.after_login()
        else:
            self.go("login")

    def after_login(self) -> None:
        self.logged_in = True
        self.location.start()
        self.call(lambda svc: svc.user(), then=self._show_user)
        self.go("report")
        if self.auto_sync_seconds:
            Clock.schedule_interval(self._auto_sync, self.auto_sync_seconds)
        self.sync(quiet=True)

    def _show_user(self, user: dict | None) -> None:
        if user:
            grids = "、".join(user.get("grid_codes") or []) or "未分配网格"
            self.user_line = f"{user.get('name') or user.get('username')} · {grids}"

    def logout(self) -> None:
        Clock.unschedule(self._auto_sync)
        self.logged_in = False
        self.user_line = ""
        self.call(lambda svc: svc.logout(), then=lambda _r: self.go("login"))

    # ------------------------------------------------------------------- sync
    def _auto_sync(self, _dt: float) -> None:
        self.sync(quiet=True)

    def sync(self, quiet: bool = False, then: Callable[[Any], None] | None = None) -> None:
        """Send what is queued; never drops anything (the service keeps failures for the worker)."""
        if self.syncing or not self.logged_in:
            return
        self.syncing = True

        def done(report: Any) -> None:
            self.syncing = False
            self.refresh_sync_line()
            if self.manager and hasattr(self.manager.current_screen, "refresh"):
                self.manager.current_screen.refresh()
            if not quiet:
                from mobile.ui.widgets import toast

                toast(sync_message(report), error=bool(report.failed or report.offline))
            if then:
                then(report)

        def failed(message: str) -> None:
            self.syncing = False
            if not quiet:
                from mobile.ui.widgets import toast

                toast(f"同步失败：{message}", error=True)

        self.call(lambda svc: svc.sync_now(), then=done, error=failed)

    def refresh_sync_line(self) -> None:
        def show(items: list[Any]) -> None:
            waiting = sum(1 for i in items if i.state == "queued")
            failed = sum(1 for i in items if i.state == "failed")
            parts = [f"待同步 {waiting}"] if waiting else []
            parts += [f"失败 {failed}"] if failed else []
            self.sync_line = " · ".join(parts) or "已全部同步"

        self.call(lambda svc: svc.queue_status(), then=show, error=lambda _m: None)


def _load_rules(path: Path) -> Any:
    """Loads a .kv file once per process: loaded twice (a second app, as in the tests), every
    rule would apply twice and each screen would hold two copies of its widgets."""
    Builder.unload_file(str(path))
    return Builder.load_file(str(path))


def sync_message(report: Any) -> str:
    if report.offline:
        return f"无法连接服务器，{report.pending} 条留在本机，稍后自动重试"
    text = f"已发送 {report.sent} 条"
    if report.failed:
        text += f"，{report.failed} 条被退回（原因见同步页）"
    if report.pending:
        text += f"，{report.pending} 条待发送"
    return text


def run(data_dir: Path | None = None, server_url: str | None = None) -> None:
    GridOpsApp(data_dir=data_dir, server_url=server_url).run()
