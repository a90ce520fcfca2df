"""Where the screens get position fixes: the phone's receiver on Android, nothing (or a fixed
demo position) on a desktop. Fixes carry their time, provider, datum and mock flag
(mobile.location.Fix); judging them is the service's job (AppService.location_check)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import ObjectProperty, StringProperty
from kivy.utils import platform

from mobile.location import Fix


class LocationSource(EventDispatcher):
    fix = ObjectProperty(None, allownone=True)  # the latest Fix, or None
    status = StringProperty("")  # zh, shown under the position

    def start(self) -> None:
        """Begin listening (idempotent)."""

    def stop(self) -> None:
        """Stop listening (the visit track on Android continues in its foreground service)."""

    def inject(self, fix: Fix) -> None:
        """A fix from outside the receiver: the tests, a demo, the Android listener's thread."""
        self.fix = fix
        self.status = ""


class DesktopLocation(LocationSource):
    """A desktop has no satellite receiver: the worker picks the point on the map. For demos,
    GRIDOPS_MOBILE_FIX="lon,lat[,accuracy_m[,mock]]" (WGS-84) stands in for a receiver."""

    def __init__(self, now: Callable[[], datetime], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._now = now

    def start(self) -> None:
        demo = os.environ.get("GRIDOPS_MOBILE_FIX")
        if not demo:
            if self.fix is None:
                self.status = "本机没有卫星定位，请在地图上选点"
            return
        parts = demo.split(",")
        self.inject(Fix(lon=float(parts[0]), lat=float(parts[1]),
                        accuracy_m=float(parts[2]) if len(parts) > 2 else None, datum="wgs84",
                        provider="demo", time=self._now(), mock=len(parts) > 3 and parts[3] == "mock"))


class AndroidLocation(LocationSource):
    """The phone's receiver through mobile.android_location (a pyjnius LocationListener that keeps
    the fix time, the provider and the mock flag, which plyer's GPS facade drops)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        from mobile.android_location import LocationListenerSource

        self._listener = LocationListenerSource(
            on_fix=lambda fix: Clock.schedule_once(lambda _dt: self.inject(fix)),
            on_status=lambda text: Clock.schedule_once(lambda _dt: setattr(self, "status", text)))

    def start(self) -> None:
        self.status = "正在定位…"
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()


def default_source(now: Callable[[], datetime]) -> LocationSource:
    return AndroidLocation() if platform == "android" else DesktopLocation(now)
