"""Online rate (在线率) arithmetic on plain intervals: no database, no clock.

Two definitions, because inspections and budgets ask two different questions:

* **Snapshot online rate** at an instant t — what an inspector sees when sampling the video
  platform: devices online at t / devices in service at t. In service = installed at or before
  t, not retired at t, and not inside a planned maintenance window at t. A device that never
  reported counts as in service and offline.
* **Time-weighted availability** over a period [start, end) — what a 95 % target over a year
  means: Σ online time / Σ expected time, summed over devices (so a device counts in
  proportion to the time it was expected to run). Expected time of a device = the period ∩
  [installed, retired) minus its planned maintenance windows. Online time = its online
  intervals ∩ its expected time, so being online during maintenance neither helps nor hurts,
  and time before installation or after retirement counts for nothing. Time with no known
  status (never reported, ingester down and nothing held by the broker) is expected but not
  online. A period still running should end at "now": the future is not expected time.

Intervals are half-open [start, end); an end of None means "still open" (status unchanged since).
Both rates are None when nothing was expected (no device in service), never 0 or 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime | None = None  # None: still open

    def closed(self, at: datetime) -> Span:
        return self if self.end is not None else Span(self.start, at)


@dataclass(frozen=True)
class DeviceRecord:
    """What the arithmetic needs of one device; the service fills it from the tables."""

    installed_at: datetime | None = None  # None: installed before anything we know of
    retired_at: datetime | None = None
    online: Sequence[Span] = ()
    maintenance: Sequence[Span] = ()


@dataclass(frozen=True)
class Rate:
    """numerator / denominator; value None when the denominator is 0."""

    numerator: float
    denominator: float
    devices: int = 0  # devices that contributed to the denominator

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator > 0 else None

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.numerator + other.numerator, self.denominator + other.denominator,
                    self.devices + other.devices)


ZERO = Rate(0.0, 0.0, 0)


def union(spans: Iterable[Span], lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """Spans clipped to [lo, hi), open ones closed at hi, merged and sorted."""
    clipped = sorted((max(s.start, lo), min(s.closed(hi).end or hi, hi)) for s in spans)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in clipped:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def subtract(spans: list[tuple[datetime, datetime]], holes: list[tuple[datetime, datetime]]
             ) -> list[tuple[datetime, datetime]]:
    """Merged, sorted spans minus merged, sorted holes (a sweep over both lists)."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        cur = a
        for h0, h1 in holes:
            if h1 <= cur or h0 >= b:
                continue
            if h0 > cur:
                out.append((cur, h0))
            cur = max(cur, h1)
            if cur >= b:
                break
        if cur < b:
            out.append((cur, b))
    return out


def intersect(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
              ) -> list[tuple[datetime, datetime]]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def seconds(spans: Iterable[tuple[datetime, datetime]]) -> float:
    return sum((b - a).total_seconds() for a, b in spans)


def expected_spans(device: DeviceRecord, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The period ∩ [installed, retired) minus maintenance windows."""
    lo = max(start, device.installed_at) if device.installed_at else start
    hi = min(end, device.retired_at) if device.retired_at else end
    if hi <= lo:
        return []
    return subtract([(lo, hi)], union(device.maintenance, lo, hi))


def device_availability(device: DeviceRecord, start: datetime, end: datetime) -> Rate:
    expected = expected_spans(device, start, end)
    if not expected:
        return ZERO
    online = intersect(union(device.online, start, end), expected)
    return Rate(seconds(online), seconds(expected), 1)


def availability(devices: Iterable[DeviceRecord], start: datetime, end: datetime) -> Rate:
    """Time-weighted availability: Σ online ∩ expected / Σ expected over the devices."""
    if end <= start:
        raise ValueError("period end must be after its start")
    total = ZERO
    for d in devices:
        total = total + device_availability(d, start, end)
    return total


def _contains(spans: Sequence[Span], at: datetime) -> bool:
    return any(s.start <= at and (s.end is None or at < s.end) for s in spans)


def in_service(device: DeviceRecord, at: datetime) -> bool:
    if device.installed_at and at < device.installed_at:
        return False
    if device.retired_at and at >= device.retired_at:
        return False
    return not _contains(device.maintenance, at)


def snapshot(devices: Iterable[DeviceRecord], at: datetime) -> Rate:
    """Snapshot online rate: devices online at `at` / devices in service at `at`."""
    online = counted = 0
    for d in devices:
        if in_service(d, at):
            counted += 1
            online += _contains(d.online, at)

    return Rate(float(online), float(counted), counted)


@dataclass
class RateTable:
    """Rates grouped by a key (grid, street, district, kind) plus the pooled total."""

    groups: dict[str, Rate] = field(default_factory=dict)

    def add(self, key: str, rate: Rate) -> None:
        self.groups[key] = self.groups.get(key, ZERO) + rate

    @property
    def total(self) -> Rate:
        out = ZERO
        for r in self.groups.values():
            out = out + r
        return out
