"""Location fixes as the phone gives them, with their datum, accuracy and mock flag.

The app never converts coordinates itself: it declares the datum of the source (Android's GPS
gives WGS-84, a Chinese map SDK GCJ-02) and the server converts to CGCS2000 (gis.datum). The
accuracy gate follows ODK Collect and QField: a fix worse than a configurable threshold is
accepted only after a warning; a mock location is flagged and sent as such, never silently trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DATUMS = ("wgs84", "gcj02", "bd09", "cgcs2000")  # what the server's `datum` field accepts
DEFAULT_WARN_ACCURACY_M = 30.0  # ODK Collect's and QField's default accuracy warning


@dataclass(frozen=True)
class Fix:
    """One position reading. `time` is the fix time from the receiver (aware), not when it was read."""

    lon: float
    lat: float
    accuracy_m: float | None
    datum: str  # "wgs84" | "gcj02" | "cgcs2000" (| "bd09")
    provider: str  # "gps", "network", "fused", "map" (a point picked on the map), …
    time: datetime
    mock: bool = False

    def __post_init__(self) -> None:
        if self.datum not in DATUMS:
            raise ValueError(f"datum must be one of {DATUMS}, got {self.datum!r}")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ValueError(f"not a position: ({self.lon}, {self.lat})")
        if self.time.tzinfo is None:
            raise ValueError("a fix time must be timezone-aware")


class Quality(StrEnum):
    ok = "ok"
    warn = "warn"  # accuracy unknown or above the threshold: the worker confirms before using it
    mock = "mock"  # a mock location provider: kept, flagged to the server


@dataclass(frozen=True)
class AccuracyVerdict:
    quality: Quality
    message: str | None  # zh, for the screen; None when ok

    @property
    def ok(self) -> bool:
        return self.quality is Quality.ok


def check(fix: Fix, warn_above_m: float = DEFAULT_WARN_ACCURACY_M) -> AccuracyVerdict:
    """The accuracy gate: mock first (whatever its stated accuracy), then the threshold."""
    if fix.mock:
        return AccuracyVerdict(Quality.mock, "检测到模拟定位，上报将标记为模拟位置")
    if fix.accuracy_m is None:
        return AccuracyVerdict(Quality.warn, "定位精度未知，请确认位置是否准确")
    if fix.accuracy_m > warn_above_m:
        return AccuracyVerdict(Quality.warn, f"定位精度 {fix.accuracy_m:.0f} 米，超过 {warn_above_m:.0f} 米，"
                                             "建议到开阔处重新定位或在地图上选点")
    return AccuracyVerdict(Quality.ok, None)
