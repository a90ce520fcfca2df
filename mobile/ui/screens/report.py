"""上报事件: category (two levels, from the cached catalogue), description, photos, and a place:
the phone's fix with its accuracy and the warning gate, or a point picked on the map of the
worker's grids. Saved to the local queue at once; sync sends it when the network allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.metrics import dp
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.popup import Popup
from kivy.utils import platform

from mobile.ui.format import wrap_cjk
from mobile.ui.screens import Page
from mobile.ui.widgets import TOUCH, BigButton, GridMap, Sheet, confirm, toast

PHOTO_PATTERNS = ["*.jpg", "*.jpeg", "*.JPG", "*.JPEG", "*.png", "*.PNG", "*.heic", "*.HEIC"]
DATUM_NAMES = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09", "cgcs2000": "CGCS2000"}


class ReportScreen(Page):
    categories = ListProperty([])  # [{code, name, children: [{code, name}]}]
    subcategories = ListProperty([])
    photos = ListProperty([])  # [Path]
    picked = ListProperty([])  # [lon, lat] from the map, or []
    fix_text = StringProperty("")
    verdict_text = StringProperty("")
    verdict_ok = BooleanProperty(True)
    error = StringProperty("")
    busy = BooleanProperty(False)
    grids = ObjectProperty(None, allownone=True)
    photo_button_text = StringProperty("拍照" if platform == "android" else "选择照片")

    def on_kv_post(self, *_: Any) -> None:
        self.app.location.bind(fix=lambda *_: self.show_location(), status=lambda *_: self.show_location())

    def refresh(self) -> None:
        self.app.call(lambda svc: svc.categories(), then=self._show_categories)
        self.app.call(lambda svc: svc.my_grids_geojson(), then=lambda g: setattr(self, "grids", g))
        self.show_location()

    # ------------------------------------------------------------- category
    def _show_categories(self, categories: list[dict]) -> None:
        self.categories = categories
        self.ids.level1.values = [c["name"] for c in categories]

    def on_level1(self, name: str) -> None:
        parent = next((c for c in self.categories if c["name"] == name), None)
        self.subcategories = (parent or {}).get("children") or []
        self.ids.level2.values = [c["name"] for c in self.subcategories]
        self.ids.level2.text = "请选择小类" if self.subcategories else "（无小类）"

    def category_code(self) -> str | None:
        parent = next((c for c in self.categories if c["name"] == self.ids.level1.text), None)
        if parent is None:
            return None
        if not parent.get("children"):
            return parent["code"]
        child = next((c for c in parent["children"] if c["name"] == self.ids.level2.text), None)
        return child["code"] if child else None

    # --------------------------------------------------------------- photos
    def add_photo(self) -> None:
        if platform == "android":
            from mobile.ui.android_camera import take_photo

            take_photo(self.app.data_dir / "photos", lambda path: self.photos.append(Path(path)))
            return
        from kivy.uix.filechooser import FileChooserListView

        chooser = FileChooserListView(path=str(Path.home()), filters=PHOTO_PATTERNS, multiselect=True)
        body = BoxLayout(orientation="vertical", spacing=dp(8))
        body.add_widget(chooser)
        buttons = BoxLayout(size_hint_y=None, height=TOUCH, spacing=dp(8))
        popup = Popup(title="选择照片", content=body, size_hint=(0.98, 0.9))
        cancel, choose = BigButton(text="取消"), BigButton(text="添加所选照片")
        cancel.bind(on_release=lambda *_: popup.dismiss())

        def take(*_: Any) -> None:
            self.photos.extend(Path(p) for p in chooser.selection if Path(p) not in self.photos)
            popup.dismiss()

        choose.bind(on_release=take)
        buttons.add_widget(cancel)
        buttons.add_widget(choose)
        body.add_widget(buttons)
        popup.open(animation=False)
        self.chooser = chooser  # the UI test selects files through it

    def clear_photos(self) -> None:
        self.photos = []

    # ------------------------------------------------------------- location
    def show_location(self) -> None:
        if self.picked:
            self.fix_text = f"地图选点：经度 {self.picked[0]:.6f}，纬度 {self.picked[1]:.6f}"
            self.verdict_text, self.verdict_ok = "", True
            return
        fix = self.app.location.fix
        if fix is None:
            self.fix_text = self.app.location.status or "正在定位…"
            self.verdict_text, self.verdict_ok = "", True
            return
        accuracy = "未知" if fix.accuracy_m is None else f"{fix.accuracy_m:.0f} 米"
        self.fix_text = (f"经度 {fix.lon:.6f}，纬度 {fix.lat:.6f}\n精度 {accuracy} · {fix.provider} · "
                         f"{DATUM_NAMES.get(fix.datum, fix.datum)}")
        self.app.call(lambda svc: svc.location_check(fix), then=self._show_verdict)

    def _show_verdict(self, verdict: Any) -> None:
        self.verdict_ok = verdict.ok
        self.verdict_text = wrap_cjk(verdict.message or "定位精度良好")

    def pick_on_map(self) -> None:
        body = BoxLayout(orientation="vertical", spacing=dp(8))
        grid_map = GridMap(geojson=self.grids, picked=list(self.picked))
        fix = self.app.location.fix
        if fix is not None:
            grid_map.here = [fix.lon, fix.lat]
        body.add_widget(grid_map)
        buttons = BoxLayout(size_hint_y=None, height=TOUCH, spacing=dp(8))
        popup = Sheet(title="点击地图选择事件位置", content=body, size_hint=(0.98, 0.9))
        cancel, ok = BigButton(text="取消"), BigButton(text="使用此位置")

        def use(*_: Any) -> None:
            if grid_map.picked:
                self.picked = list(grid_map.picked)
                self.show_location()
            popup.dismiss()

        cancel.bind(on_release=lambda *_: popup.dismiss())
        ok.bind(on_release=use)
        buttons.add_widget(cancel)
        buttons.add_widget(ok)
        body.add_widget(buttons)
        popup.open(animation=False)
        self.map_popup, self.grid_map = popup, grid_map  # the UI test taps on it

    def use_gps(self) -> None:
        self.picked = []
        self.app.location.start()
        self.show_location()

    # --------------------------------------------------------------- submit
    def submit(self) -> None:
        code = self.category_code()
        description = self.ids.description.text.strip()
        fix = None if self.picked else self.app.location.fix
        problems = ([] if code else ["请选择事件类别"]) + ([] if description else ["请填写事件描述"])
        if fix is None and not self.picked:
            problems.append("请等待定位或在地图上选点")
        if problems:
            self.error = "；".join(problems)
            return
        self.error = ""
        if fix is not None and not self.verdict_ok:
            confirm("定位提醒", f"{self.verdict_text}\n\n仍然使用此位置上报吗？", yes="仍然上报", no="去地图选点",
                    on_yes=lambda: self._send(code, description, fix), on_no=self.pick_on_map)
            return
        self._send(code, description, fix)

    def _send(self, code: str | None, description: str, fix: Any) -> None:
        assert code is not None
        photos, picked = list(self.photos), tuple(self.picked) if self.picked else None
        self.busy = True
        self.app.call(lambda svc: svc.report_event(category_code=code, description=description, photos=photos,
                                                   fix=fix, picked=picked),
                      then=self._sent, error=self._failed)

    def _sent(self, _uuid: str) -> None:
        self.busy = False
        self.ids.description.text = ""
        self.photos, self.picked = [], []
        self.ids.level1.text, self.ids.level2.text = "请选择大类", "请选择小类"
        self.show_location()
        toast("已保存到本机，联网后自动上报")
        self.app.sync(quiet=True)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.error = message
