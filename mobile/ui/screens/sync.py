"""同步: what is queued, what was sent, what the server refused and why, a retry per item and a
"sync now" button. Nothing leaves the list silently: a refused item stays until the worker acts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kivy.metrics import dp, sp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.ui.format import SHANGHAI
from mobile.ui.screens import Page
from mobile.ui.widgets import BigButton, Caption

KINDS = {"event": "事件", "transition": "处置", "visit": "走访", "photo": "照片", "attach": "照片关联",
         "key_person_update": "重点人员更新"}
STATES = {"queued": "待发送", "sent": "已发送", "failed": "失败"}


def item_text(item: Any) -> str:
    created = item.created if item.created.tzinfo else item.created.replace(tzinfo=UTC)
    head = f"{KINDS.get(item.kind, item.kind)} · {STATES.get(item.state, item.state)}"
    if item.label:
        head += f" · {item.label}"
    text = f"{head}\n{created.astimezone(SHANGHAI):%m-%d %H:%M}"
    if item.attempts:
        text += f" · 已尝试 {item.attempts} 次"
    if item.reason:
        text += f"\n原因：{item.reason}"
    return text


class SyncScreen(Page):
    summary = StringProperty("")

    def refresh(self) -> None:
        self.app.call(lambda svc: svc.queue_status(), then=self._show)

    def _show(self, items: list[Any]) -> None:
        counts = {state: sum(1 for i in items if i.state == state) for state in STATES}
        self.summary = f"待发送 {counts['queued']} 条 · 已发送 {counts['sent']} 条 · 失败 {counts['failed']} 条"
        box = self.ids.queue_list
        box.clear_widgets()
        order = {"failed": 0, "queued": 1, "sent": 2}  # what needs the worker first
        for item in sorted(items, key=lambda i: (order.get(i.state, 3), -_ts(i.created))):
            row = BoxLayout(size_hint_y=None, spacing=dp(8))
            label = Caption(text=item_text(item), font_size=sp(16),
                            color=(0.8, 0.1, 0.1, 1) if item.state == "failed" else (0.15, 0.15, 0.15, 1))
            row.add_widget(label)
            label.bind(height=lambda w, h, r=row: setattr(r, "height", max(h, dp(56))))
            if item.state == "failed":
                retry = BigButton(text="重试", size_hint_x=None, width=dp(88))
                retry.bind(on_release=lambda _w, local_id=item.local_id: self.retry(local_id))
                row.add_widget(retry)
            box.add_widget(row)

    def retry(self, local_id: str) -> None:
        self.app.call(lambda svc: svc.retry(local_id), then=lambda _r: self.app.sync())

    def sync_now(self) -> None:
        self.app.sync()


def _ts(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
