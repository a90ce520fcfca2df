"""我的工作: my reports and the events dispatched to my grids, with state, deadline and history;
"记录已处置" queues the handled transition (the server decides whether the role may)."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from mobile.ui.format import local_time
from mobile.ui.screens import Page
from mobile.ui.widgets import TOUCH, BigButton, Caption, Sheet, toast

SYNC_NAMES = {"queued": "待同步", "sent": "已同步", "failed": "被退回"}


def _pick(item: dict, *keys: str, default: str = "") -> str:
    for key in keys:
        if item.get(key) not in (None, ""):
            return str(item[key])
    return default


def row_text(item: dict) -> str:
    serial = _pick(item, "serial", "short_id", default=str(item.get("uuid", ""))[:8])
    category = _pick(item, "category_name", "category_code")
    state = _pick(item, "state_zh", "state", default="—")
    deadline = local_time(item.get("deadline") or item.get("due_at")) or "无"
    if item.get("overdue"):
        deadline += "（已超期）"
    sync = SYNC_NAMES.get(item.get("sync_state") or "", "")
    return f"[b]{serial}  {category}[/b]\n状态：{state}  期限：{deadline}" + (f"  {sync}" if sync else "")


class WorkScreen(Page):
    items = ListProperty([])
    empty_text = StringProperty("")

    def refresh(self) -> None:
        self.app.call(lambda svc: svc.my_work(), then=self._show)

    def _show(self, items: list[dict]) -> None:
        self.items = items
        box = self.ids.rows
        box.clear_widgets()
        self.empty_text = "" if items else "暂无事件：您上报的事件和派到您网格的事件会显示在这里。"
        for item in items:
            row = Button(text=row_text(item), markup=True, size_hint_y=None, height=dp(84), font_size=sp(17),
                         halign="left", valign="middle", background_normal="",
                         background_color=(0.95, 0.97, 0.95, 1), color=(0.1, 0.1, 0.1, 1))
            row.bind(size=lambda w, _s: setattr(w, "text_size", (w.width - dp(24), None)))
            row.bind(on_release=lambda _w, uuid=item["uuid"]: self.open(uuid))
            box.add_widget(row)

    def open(self, uuid: str) -> None:
        self.app.call(lambda svc: svc.event_detail(uuid), then=self._detail)

    def _detail(self, event: dict) -> None:
        body = BoxLayout(orientation="vertical", spacing=dp(8))
        scroll = ScrollView(do_scroll_x=False)
        lines = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(4))
        lines.bind(minimum_height=lines.setter("height"))
        lines.add_widget(Caption(text=row_text(event).replace("[b]", "").replace("[/b]", "")))
        if event.get("description"):
            lines.add_widget(Caption(text=f"描述：{event['description']}"))
        for key, title in (("reason", "未能上报"), ("rejection_reason", "退回原因")):
            if event.get(key):
                lines.add_widget(Caption(text=f"{title}：{event[key]}", color=(0.8, 0.1, 0.1, 1)))
        lines.add_widget(Caption(text="处理经过：", bold=True))
        for step in event.get("history") or []:
            lines.add_widget(Caption(text=history_line(step), font_size=sp(16)))
        scroll.add_widget(lines)
        body.add_widget(scroll)
        note = TextInput(hint_text="处置说明（必填）", size_hint_y=None, height=dp(96), font_size=sp(18))
        popup = Sheet(title="事件详情", content=body, size_hint=(0.98, 0.92))
        buttons = BoxLayout(size_hint_y=None, height=TOUCH, spacing=dp(8))
        close = BigButton(text="关闭", background_color=(0.6, 0.6, 0.6, 1))
        close.bind(on_release=lambda *_: popup.dismiss())
        buttons.add_widget(close)
        if "handled" in (event.get("allowed_next") or []):  # the server says whether this role may
            body.add_widget(note)
            handled = BigButton(text="记录已处置")
            handled.bind(on_release=lambda *_: self._handled(event["uuid"], note, popup))
            buttons.add_widget(handled)
        body.add_widget(buttons)
        popup.open(animation=False)
        self.detail_popup = popup

    def _handled(self, uuid: str, note: TextInput, popup: Sheet) -> None:
        text = note.text.strip()
        if not text:
            toast("请填写处置说明", error=True)
            return

        def done(reason: str | None) -> None:
            if reason:
                toast(reason, error=True)
                return
            popup.dismiss()
            toast("已记录，联网后同步")
            self.refresh()
            self.app.sync(quiet=True)

        self.app.call(lambda svc: svc.record_handled(uuid, text), then=done)


# What a history row records when it is not a change of state (the server's `kind`).
HISTORY_KINDS = {"create": "上报", "photos": "补充照片", "merge": "合并", "dispute": "异议"}


def history_line(step: Any) -> str:
    if isinstance(step, str):
        return step
    when = local_time(step.get("at"))
    what = HISTORY_KINDS.get(step.get("kind") or "") or _pick(step, "to_state_zh", "to_state")
    who = _pick(step, "actor")
    note = _pick(step, "note", "comment")
    return " · ".join(p for p in (when, what, who, note) if p)
