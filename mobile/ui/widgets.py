"""Widgets shared by the screens: big touch targets, a toast, a confirmation, the grid map picker."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.metrics import dp, sp
from kivy.properties import ListProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.widget import Widget

from mobile.ui.format import wrap_cjk

TOUCH = dp(56)  # Material's minimum comfortable target is 48 dp; gloves and sunlight want more


class BigButton(Button):
    """A full-width button at least TOUCH high (styled in widgets.kv)."""


class Caption(Label):
    """A wrapping label that grows with its text (styled in widgets.kv)."""


class Sheet(Popup):
    """A popup on white, for dark text (Kivy's default popup is dark grey; styled in widgets.kv)."""


class Toast(Label):
    """Drawn over the screen but not modal: touches go through to the buttons under it."""

    def on_touch_down(self, touch):  # type: ignore[no-untyped-def]
        return False


def toast(text: str, *, error: bool = False, seconds: float = 2.5) -> Toast:
    """A short message near the bottom of the screen; errors stay longer and show red."""
    from kivy.core.window import Window

    view = Toast(text=wrap_cjk(text), color=(1, 0.85, 0.85, 1) if error else (1, 1, 1, 1))
    Window.add_widget(view)
    Clock.schedule_once(lambda _dt: Window.remove_widget(view), seconds * (2 if error else 1))
    return view


def confirm(title: str, text: str, yes: str, no: str, on_yes: Callable[[], None],
            on_no: Callable[[], None] | None = None) -> Popup:
    """A question with two big answers; the safe answer (no) is on the left, within the thumb's reach."""
    body = BoxLayout(orientation="vertical", spacing=dp(12), padding=dp(8))
    body.add_widget(Caption(text=wrap_cjk(text)))
    buttons = BoxLayout(size_hint_y=None, height=TOUCH, spacing=dp(12))
    popup = Sheet(title=title, content=body, size_hint=(0.95, None), height=dp(320), auto_dismiss=False)

    def answer(callback: Callable[[], None] | None) -> None:
        popup.dismiss()
        if callback:
            callback()

    no_button = BigButton(text=no)
    no_button.bind(on_release=lambda *_: answer(on_no))
    yes_button = BigButton(text=yes)
    yes_button.bind(on_release=lambda *_: answer(on_yes))
    buttons.add_widget(no_button)
    buttons.add_widget(yes_button)
    body.add_widget(buttons)
    popup.open(animation=False)
    return popup


def _rings(geometry: dict) -> Iterable[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        yield from geometry["coordinates"]
    elif geometry.get("type") == "MultiPolygon":
        for polygon in geometry["coordinates"]:
            yield from polygon


class GridMap(Widget):
    """The worker's grids (cached GeoJSON, lon/lat) drawn to fit; a tap picks a lon/lat.

    A plain canvas rather than a tile map: it works offline, needs no map SDK (whose GCJ-02
    coordinates would be one more datum to declare), and a grid is small enough that its
    outline and a few hundred metres around it are what the worker needs to place a point.
    """

    geojson = ObjectProperty(None, allownone=True)
    picked = ListProperty([])  # [lon, lat] once tapped
    here = ListProperty([])  # [lon, lat] of the current fix, drawn as a blue dot

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self.redraw, size=self.redraw, geojson=self.redraw, picked=self.redraw, here=self.redraw)

    def _bounds(self) -> tuple[float, float, float, float] | None:
        xs: list[float] = []
        ys: list[float] = []
        for feature in (self.geojson or {}).get("features", []):
            for ring in _rings(feature.get("geometry") or {}):
                xs += [p[0] for p in ring]
                ys += [p[1] for p in ring]
        if not xs:
            return None
        pad_x = (max(xs) - min(xs)) * 0.1 or 0.001
        pad_y = (max(ys) - min(ys)) * 0.1 or 0.001
        return min(xs) - pad_x, min(ys) - pad_y, max(xs) + pad_x, max(ys) + pad_y

    def _scale(self) -> tuple[float, float, float, float, float] | None:
        """(minx, miny, sx, sy, offset…): metres are ~cos(lat) shorter east-west, kept square."""
        bounds = self._bounds()
        if bounds is None or self.width <= 0 or self.height <= 0:
            return None
        minx, miny, maxx, maxy = bounds
        k = math.cos(math.radians((miny + maxy) / 2))
        scale = min(self.width / ((maxx - minx) * k), self.height / (maxy - miny))
        ox = self.x + (self.width - (maxx - minx) * k * scale) / 2
        oy = self.y + (self.height - (maxy - miny) * scale) / 2
        return minx, miny, scale * k, scale, ox + oy * 1j  # type: ignore[return-value]

    def to_screen(self, lon: float, lat: float) -> tuple[float, float]:
        s = self._scale()
        assert s is not None
        minx, miny, sx, sy, origin = s
        return origin.real + (lon - minx) * sx, origin.imag + (lat - miny) * sy  # type: ignore[attr-defined]

    def to_lonlat(self, x: float, y: float) -> tuple[float, float] | None:
        s = self._scale()
        if s is None:
            return None
        minx, miny, sx, sy, origin = s
        return minx + (x - origin.real) / sx, miny + (y - origin.imag) / sy  # type: ignore[attr-defined]

    def redraw(self, *_: object) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(0.96, 0.97, 0.95, 1)
            Rectangle(pos=self.pos, size=self.size)
            if self._scale() is None:
                return
            for feature in (self.geojson or {}).get("features", []):
                points: list[tuple[float, float]] = []
                for ring in _rings(feature.get("geometry") or {}):
                    flat = [c for p in ring for c in self.to_screen(p[0], p[1])]
                    Color(0.13, 0.45, 0.25, 1)
                    Line(points=flat, width=dp(1.5), close=True)
                    points += [self.to_screen(p[0], p[1]) for p in ring]
                name = (feature.get("properties") or {}).get("name") or (feature.get("properties") or {}).get("code")
                if name and points:
                    label = CoreLabel(text=str(name), font_size=sp(14), color=(0.13, 0.45, 0.25, 1))
                    label.refresh()
                    cx = sum(p[0] for p in points) / len(points)
                    cy = sum(p[1] for p in points) / len(points)
                    Color(1, 1, 1, 1)
                    Rectangle(texture=label.texture, size=label.texture.size,
                              pos=(cx - label.texture.width / 2, cy - label.texture.height / 2))
            if self.here:
                x, y = self.to_screen(*self.here)
                Color(0.1, 0.4, 0.9, 1)
                Ellipse(pos=(x - dp(6), y - dp(6)), size=(dp(12), dp(12)))
            if self.picked:
                x, y = self.to_screen(*self.picked)
                Color(0.85, 0.1, 0.1, 1)
                Line(circle=(x, y, dp(10)), width=dp(2))
                Line(points=[x - dp(14), y, x + dp(14), y], width=dp(1.5))
                Line(points=[x, y - dp(14), x, y + dp(14)], width=dp(1.5))

    def on_touch_down(self, touch):  # type: ignore[no-untyped-def]
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        lonlat = self.to_lonlat(*touch.pos)
        if lonlat is not None:
            self.picked = [round(lonlat[0], 7), round(lonlat[1], 7)]
        return True
