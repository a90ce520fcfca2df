"""The GPS track of a visit: which fixes to keep, so that a two-hour patrol is a few hundred points,
not seven thousand, and still shows where the worker went.

Rules (what field-tracking apps such as OsmAnd's trip recording use): a fix is kept when the worker
moved at least `min_distance_m` from the last kept one, or `max_interval_s` passed (a point every
so often while standing, so the time spent is visible); a fix is dropped when it comes sooner
than `min_interval_s` or is less accurate than `max_accuracy_m` (a jump of the network provider).
The server takes at most 5000 points per visit: `thin` keeps an even subset if a visit ran longer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mobile.location import Fix

EARTH_RADIUS_M = 6_371_008.8
SERVER_MAX_POINTS = 5000


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): metre-exact at a patrol's scale."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class TrackRules:
    min_distance_m: float = 10.0
    min_interval_s: float = 5.0
    max_interval_s: float = 60.0
    max_accuracy_m: float = 100.0


class TrackFilter:
    """Decides, fix by fix, what the recorder keeps; holds only the last kept fix."""

    def __init__(self, rules: TrackRules | None = None, last: Fix | None = None) -> None:
        self.rules = rules or TrackRules()
        self.last = last

    def accept(self, fix: Fix) -> bool:
        r = self.rules
        if fix.accuracy_m is not None and fix.accuracy_m > r.max_accuracy_m:
            return False
        if self.last is not None:
            dt = (fix.time - self.last.time).total_seconds()
            if dt < r.min_interval_s:
                return False
            moved = distance_m(self.last.lon, self.last.lat, fix.lon, fix.lat)
            if moved < r.min_distance_m and dt < r.max_interval_s:
                return False
        self.last = fix
        return True


def thin(points: list[dict], limit: int = SERVER_MAX_POINTS, keep: str = "checkin") -> list[dict]:
    """At most `limit` points, evenly spaced, keeping every point whose kind is `keep` (check-ins) and
    the first and last."""
    if len(points) <= limit:
        return points
    must = {i for i, p in enumerate(points) if p.get("kind") == keep} | {0, len(points) - 1}
    others = [i for i in range(len(points)) if i not in must]
    room = max(0, limit - len(must))
    step = len(others) / room if room else math.inf
    chosen = {others[int(k * step)] for k in range(room)} if room else set()
    return [points[i] for i in sorted(must | chosen)][:limit]
