"""巡查走访: start, check in at households, rentals and key persons, end. While a visit runs the
track is recorded (on Android by a foreground service, so it continues with the screen off);
after sync the server's verdict is shown: counted, or not and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.clock import Clock
from kivy.metrics import sp
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.utils import platform

from mobile.ui.format import local_time
from mobile.ui.screens import Page
from mobile.ui.widgets import Caption, toast

TARGETS = {"住户": "household", "出租屋": "rental", "重点人员": "key_person"}
PICK_PERSON = "选择重点人员"
# No spaces: Kivy wraps at spaces first, which leaves ragged lines in Chinese text.
BATTERY_NOTE = ("提示：华为、小米、OPPO、vivo等手机会在后台关闭定位。请在系统设置→应用→网格员→电池中"
                "选择「不限制」（或「允许后台活动」），否则锁屏后走访轨迹会中断，走访可能不被计入。")


def person_label(person: dict) -> str:
    """One line of the key-person list: masked name, type, and whether a visit is due."""
    due = ""
    if person.get("follow_up") != "overdue" and person.get("next_due_at"):
        month, day = local_time(person["next_due_at"])[:5].split("-")
        due = f"（{int(month)}月{int(day)}日前）"
    return f"{person['name']} · {person['type_name']} · {person['follow_up_zh']}{due}"


def verdict_text(visit: dict) -> str:
    if visit.get("counted") is True:
        return "已计入"
    if visit.get("counted") is False:
        why = visit.get("not_counted_detail") or visit.get("not_counted_reason") or visit.get("reason") or ""
        return f"未计入：{why}" if why else "未计入"
    if visit.get("sync_state") == "failed" or visit.get("state") == "failed":
        return f"被退回：{visit.get('reason') or ''}"
    return "待同步后显示是否计入"


class VisitScreen(Page):
    running = BooleanProperty(False)
    visit_uuid = StringProperty("")
    started = NumericProperty(0)  # epoch seconds of the start, for the elapsed time
    elapsed_text = StringProperty("")
    points = NumericProperty(0)  # track points handed to the service by this screen
    checkins = NumericProperty(0)
    battery_note = StringProperty(BATTERY_NOTE)
    person_labels = ListProperty([])  # the spinner's values; `people` maps each back to its register id

    def on_kv_post(self, *_: Any) -> None:
        self.app.location.bind(fix=self._on_fix)
        # the widgets themselves (`ids` holds weak proxies): the panel not shown must stay alive
        self._panels = {False: self.ids.start.__self__, True: self.ids.running_box.__self__}
        self._targets = {False: self.ids.target_id.__self__, True: self.ids.person.__self__}
        self.people: dict[str, int] = {}
        self.on_running(self, self.running)
        self.on_target_kind(self.ids.target_kind.text)

    def on_target_kind(self, text: str) -> None:
        """A key person is picked from the list; a household or a rental is typed."""
        if not hasattr(self, "_targets"):  # kv sets the text before on_kv_post
            return
        box = self.ids.target_box
        box.clear_widgets()
        box.add_widget(self._targets[TARGETS.get(text) == "key_person"])

    def _show_people(self, people: list[dict]) -> None:
        self.people = {person_label(p): p["id"] for p in people}
        self.person_labels = list(self.people) or ["（本网格暂无重点人员）"]

    def on_running(self, _screen: Any, running: bool) -> None:
        panel = self.ids.panel
        panel.clear_widgets()
        panel.add_widget(self._panels[bool(running)])

    def refresh(self) -> None:
        self.app.call(lambda svc: svc.visits(), then=self._show_visits)
        self.app.call(lambda svc: svc.key_persons(), then=self._show_people)
        if not self.running:  # a visit left running when the app was closed or killed
            self.app.call(lambda svc: svc.current_visit() if hasattr(svc, "current_visit") else None,
                          then=self._resume)

    def _resume(self, current: dict | None) -> None:
        if current and not self.running:
            self.visit_uuid, self.running = current["uuid"], True
            self.started = datetime.fromisoformat(current["started_at"]).timestamp()
            self.points, self.checkins = current.get("points", 0), current.get("checkins", 0)
            Clock.schedule_interval(self._tick, 1)
            self._tick(0)

    def _show_visits(self, visits: list[dict]) -> None:
        box = self.ids.visits
        box.clear_widgets()
        if not visits:
            box.add_widget(Caption(text="还没有走访记录", color=(0.4, 0.4, 0.4, 1)))
        for visit in visits:
            minutes = visit.get("minutes")
            length = f"{minutes:.0f} 分钟" if isinstance(minutes, (int, float)) else ""
            counted = visit.get("counted")
            colour = {True: (0.13, 0.45, 0.25, 1), False: (0.85, 0.35, 0, 1)}.get(counted, (0.3, 0.3, 0.3, 1))
            box.add_widget(Caption(text=f"{local_time(visit.get('started_at'))}  {length}  {verdict_text(visit)}",
                                   color=colour, font_size=sp(17)))

    # ----------------------------------------------------------------- visit
    def start(self) -> None:
        fix = self.app.location.fix
        self.app.location.start()
        self.app.call(lambda svc: svc.start_visit(fix), then=self._started)

    def _started(self, uuid: str) -> None:
        self.visit_uuid, self.running = uuid, True
        self.started = self.app.now().timestamp()
        self.points = self.checkins = 0
        if platform == "android":
            from mobile.android_location import start_track_service

            start_track_service(str(self.app.data_dir), uuid)
        Clock.schedule_interval(self._tick, 1)
        self._tick(0)
        toast("走访已开始，正在记录轨迹")

    def on_points(self, *_: Any) -> None:
        if self.running:
            self._tick(0)

    on_checkins = on_points

    def _tick(self, _dt: float) -> None:
        seconds = int(self.app.now().timestamp() - self.started)
        self.elapsed_text = (f"已走访 {seconds // 60} 分 {seconds % 60:02d} 秒 · 轨迹点 {self.points} 个 · "
                             f"签到 {self.checkins} 处")

    def _on_fix(self, _source: Any, fix: Any) -> None:
        # On Android the foreground service records the track (it keeps running when the screen
        # is off); on a desktop the screen hands every new fix to the service itself.
        if self.running and fix is not None and platform != "android":
            self.points += 1
            self.app.call(lambda svc: svc.add_track_point(fix))

    def check_in(self) -> None:
        kind = TARGETS.get(self.ids.target_kind.text)
        if kind is None:
            toast("请选择签到对象：住户、出租屋或重点人员", error=True)
            return
        if kind == "key_person":
            person = self.people.get(self.ids.person.text)
            if person is None:
                toast("请从列表中选择重点人员", error=True)
                return
            target, shown = str(person), self.ids.person.text.split(" · ")[0]
        else:
            target = shown = self.ids.target_id.text.strip() or None
        note = self.ids.note.text.strip()
        fix = self.app.location.fix

        def done(_r: Any) -> None:
            self.checkins += 1
            self.ids.target_id.text = self.ids.note.text = ""
            self.ids.person.text = PICK_PERSON
            toast(f"已签到：{self.ids.target_kind.text} {shown or ''}")

        self.app.call(lambda svc: svc.check_in(target_kind=kind, target_id=target, note=note, fix=fix), then=done)

    def end(self) -> None:
        fix = self.app.location.fix
        self.app.call(lambda svc: svc.end_visit(fix), then=self._ended)

    def _ended(self, _uuid: str) -> None:
        Clock.unschedule(self._tick)
        if platform == "android":
            from mobile.android_location import stop_track_service

            stop_track_service()
        self.running, self.visit_uuid, self.elapsed_text = False, "", ""
        toast("走访已结束，同步后显示是否计入")
        self.app.sync(quiet=True, then=lambda _r: self.refresh())
        self.refresh()
