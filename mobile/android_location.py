"""Android only (imported on the phone, never on a desktop or in CI): position fixes from
LocationManager through a pyjnius LocationListener, and the visit track's foreground service.

Why not plyer's GPS facade: it hands over latitude, longitude and accuracy only, dropping the
fix time, the provider and the mock flag, which the server needs (a fix's own time orders a
track; a mock provider must be flagged, not trusted). Android's GPS is WGS-84, so every Fix
here declares datum "wgs84" and the server converts.

The track keeps running with the screen off only inside a foreground service declared with
foregroundServiceType="location" (mandatory on Android 14+; buildozer.spec declares it):
`start_track_service` starts it, and `track_service_main` is its entry point (android_track.py).
Chinese phone makers still kill it unless the app's battery policy is "unrestricted"; the
巡查走访 screen says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jnius import PythonJavaClass, autoclass, java_method  # type: ignore[import-not-found]

from mobile.location import Fix

PACKAGE = "cn.gridops.worker"  # buildozer.spec: package.domain + "." + package.name
MIN_TIME_MS = 5_000  # the track rules (mobile/track.py) thin further; the receiver need not work harder
PERMISSIONS = ["android.permission.ACCESS_FINE_LOCATION", "android.permission.ACCESS_COARSE_LOCATION"]

Build = autoclass("android.os.Build$VERSION")
Context = autoclass("android.content.Context")
Looper = autoclass("android.os.Looper")


def to_fix(location: Any) -> Fix:
    """An android.location.Location as a Fix, keeping what plyer drops."""
    mock = location.isMock() if Build.SDK_INT >= 31 else location.isFromMockProvider()
    return Fix(lon=location.getLongitude(), lat=location.getLatitude(),
               accuracy_m=float(location.getAccuracy()) if location.hasAccuracy() else None,
               datum="wgs84", provider=str(location.getProvider() or "unknown"),
               time=datetime.fromtimestamp(location.getTime() / 1000, UTC), mock=bool(mock))


class _Listener(PythonJavaClass):  # type: ignore[misc]
    __javainterfaces__ = ["android/location/LocationListener"]
    __javacontext__ = "app"

    def __init__(self, on_location: Callable[[Any], None], on_status: Callable[[str], None]) -> None:
        super().__init__()
        self.on_location, self.on_status = on_location, on_status

    @java_method("(Landroid/location/Location;)V")
    def onLocationChanged(self, location: Any) -> None:  # noqa: N802 (Java's name)
        self.on_location(location)

    # A Java proxy sends every interface method here, the API 30+ defaults too.
    @java_method("(Ljava/util/List;)V", name="onLocationChanged")
    def on_location_batch(self, locations: Any) -> None:
        for i in range(locations.size()):
            self.on_location(locations.get(i))

    @java_method("(I)V")
    def onFlushComplete(self, request_code: int) -> None:  # noqa: N802
        pass

    @java_method("(Ljava/lang/String;)V")
    def onProviderEnabled(self, provider: str) -> None:  # noqa: N802
        self.on_status("")

    @java_method("(Ljava/lang/String;)V")
    def onProviderDisabled(self, provider: str) -> None:  # noqa: N802
        if provider == "gps":
            self.on_status("卫星定位已关闭：请在系统设置中打开“位置信息”")

    @java_method("(Ljava/lang/String;ILandroid/os/Bundle;)V")
    def onStatusChanged(self, provider: str, status: int, extras: Any) -> None:  # noqa: N802
        pass


def _context() -> Any:
    service = autoclass("org.kivy.android.PythonService").mService
    return service if service is not None else autoclass("org.kivy.android.PythonActivity").mActivity


class LocationListenerSource:
    """GPS and network fixes to `on_fix`, after asking for the location permission at run time."""

    def __init__(self, on_fix: Callable[[Fix], None], on_status: Callable[[str], None] = lambda _s: None) -> None:
        self.on_fix, self.on_status = on_fix, on_status
        self._listener = _Listener(lambda loc: self.on_fix(to_fix(loc)), on_status)
        self._manager: Any = None

    def start(self) -> None:
        if self._manager is not None:
            return
        try:  # in the app: ask first (Android 6+); the service runs only after it was granted
            from android.permissions import check_permission, request_permissions  # type: ignore[import-not-found]

            if not all(check_permission(p) for p in PERMISSIONS):
                request_permissions(PERMISSIONS, lambda _p, grants: self._listen() if all(grants) else
                                    self.on_status("没有定位权限：请在系统设置中允许本应用使用位置信息"))
                return
        except ImportError:
            pass
        self._listen()

    def _listen(self) -> None:
        self._manager = _context().getSystemService(Context.LOCATION_SERVICE)
        for provider in ("gps", "network"):  # network answers first indoors; gps is the accurate one
            if self._manager.isProviderEnabled(provider):
                last = self._manager.getLastKnownLocation(provider)
                if last is not None:
                    self.on_fix(to_fix(last))
                self._manager.requestLocationUpdates(provider, MIN_TIME_MS, 0.0, self._listener,
                                                     Looper.getMainLooper())

    def stop(self) -> None:
        if self._manager is not None:
            self._manager.removeUpdates(self._listener)
            self._manager = None


def start_track_service(data_dir: str, visit_uuid: str) -> None:
    """Starts the foreground service that records the visit's track (android_track.py)."""
    activity = autoclass("org.kivy.android.PythonActivity").mActivity
    autoclass(f"{PACKAGE}.ServiceTrack").start(activity, json.dumps({"data_dir": data_dir, "visit": visit_uuid}))


def stop_track_service() -> None:
    activity = autoclass("org.kivy.android.PythonActivity").mActivity
    autoclass(f"{PACKAGE}.ServiceTrack").stop(activity)


def track_service_main() -> None:
    """The foreground service's loop: every fix goes to AppService.add_track_point (the track
    rules keep what matters); the service's notification tells the worker a visit is running."""
    from threading import Event

    from mobile.service import AppService

    argument = json.loads(os.environ.get("PYTHON_SERVICE_ARGUMENT") or "{}")
    service = AppService(argument["data_dir"])
    source = LocationListenerSource(service.add_track_point)
    source.start()
    Event().wait()  # until the app stops the service (stop_track_service)
