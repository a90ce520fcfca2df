"""A year of device history for the demo district, so online rates (在线率) mean something.

The devices are the embedded simulator's fleet (same codes and kinds: server.devices.fleet's
DEMO_PREFIX and GRIDOPS_DEMO_DEVICES), so `gridops serve` goes on animating them live where their
history ends instead of adding devices with none. Each street has its own camera availability
around the 95 % target (two below it, four above), each device its own flakiness; outages mix
short blips (minutes), faults of hours and failures of days, a few cameras are dead for weeks
(one still is), and every device has a night-time maintenance window each quarter, which
availability leaves out of expected time. Cameras raise the alarms cameras raise.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from devices.codes import KIND_LABELS_ZH, DeviceKind
from devices.simulator import fleet
from gis.codes import community_of_grid, street_of
from server.config import get_settings
from server.demo_operations import local_midnights, point_in
from server.devices.fleet import DEMO_PREFIX
from server.devices.models import DeviceAlarm, DeviceMaintenance, DeviceStatusInterval
from server.devices.schemas import DeviceCreate
from server.devices.service import new_device
from server.divisions.models import Community, Street
from server.geometry import to_shapely
from server.grids.models import Grid

# Camera availability per street (in street code order): district ≈ 96 %, two streets under 95 %.
STREET_CAMERA_AVAILABILITY = (0.982, 0.968, 0.944, 0.936, 0.976, 0.958)
KIND_AVAILABILITY = {DeviceKind.access_controller: 0.975, DeviceKind.link: 0.997, DeviceKind.terminal: 0.99}
# Outage kinds: (share of outages, shortest, longest in hours, how the ingester saw it start).
OUTAGES = ((0.55, 2 / 60, 20 / 60, "timeout"), (0.35, 1.0, 10.0, "timeout"), (0.10, 24.0, 144.0, "will"))
MEAN_OUTAGE_H = sum(share * (lo + hi) / 2 for share, lo, hi, _ in OUTAGES)
DEAD_CAMERAS = 0.025  # share of cameras dead for weeks; the first of them still is
DEFAULT_COUNT = 200  # when GRIDOPS_DEMO_DEVICES is 0 (no simulator) the demo still has devices
HEARTBEAT_S = 60
CAMERA_ALARMS = (("video_loss", "warning", "视频信号丢失"), ("tamper", "critical", "镜头遮挡或移位"),
                 ("disk_error", "warning", "存储卡读写异常"), ("power", "critical", "供电电压异常"))
ALARMS_PER_CAMERA_YEAR = 6
OWNER = {DeviceKind.camera: "区公安分局（雪亮工程）", DeviceKind.access_controller: "区来穗人员服务管理局",
         DeviceKind.link: "区委政法委", DeviceKind.terminal: "区综治中心"}


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    reason: str  # how the offline span began, as the ingester records it


def _outages(rnd: random.Random, start: datetime, end: datetime, availability: float) -> list[Span]:
    """A Poisson process of outages whose expected downtime is 1 − availability, scaled by the device's
    own flakiness (log-normal, mean 1)."""
    flake = rnd.lognormvariate(-0.125, 0.5)
    per_day = (1 - availability) * 24 / MEAN_OUTAGE_H * flake
    spans, t = [], start
    while True:
        t += timedelta(days=rnd.expovariate(per_day))
        if t >= end:
            return spans
        pick, acc = rnd.random(), 0.0
        for share, lo, hi, reason in OUTAGES:
            acc += share
            if pick < acc:
                break
        stop = min(t + timedelta(hours=rnd.uniform(lo, hi)), end)
        spans.append(Span(t, stop, reason))
        t = stop


def _maintenance(rnd: random.Random, midnights: list[datetime], start: datetime, end: datetime) -> list[Span]:
    """One window a quarter, starting 01:00–03:00 local time, 2–4 hours, announced by a status message."""
    windows = []
    for q in range(0, len(midnights) - 90, 91):
        day = midnights[min(q + rnd.randrange(91), len(midnights) - 1)]
        a = day + timedelta(hours=rnd.uniform(1, 3))
        b = a + timedelta(hours=rnd.uniform(2, 4))
        if start <= a and b <= end:
            windows.append(Span(a, b, "status"))
    return windows


def _merged(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and s.start <= out[-1].end:
            out[-1] = Span(out[-1].start, max(out[-1].end, s.end), out[-1].reason)
        else:
            out.append(s)
    return out


def _intervals(device_id: int, installed: datetime, offline: list[Span], now: datetime) -> list[dict[str, Any]]:
    """Alternating online/offline rows from installation to now; the last one open (end_at null)."""
    rows, t = [], installed
    for s in offline:
        if s.start > t:
            rows.append({"device_id": device_id, "status": "online", "start_at": t, "end_at": s.start,
                         "reason": "heartbeat"})
        rows.append({"device_id": device_id, "status": "offline", "start_at": max(s.start, t), "end_at": s.end,
                     "reason": s.reason})
        t = s.end
    if t < now:
        rows.append({"device_id": device_id, "status": "online", "start_at": t, "end_at": None, "reason": "heartbeat"})
    rows[-1]["end_at"] = None
    return rows


def _place(rnd: random.Random, kind: DeviceKind, n: int, grids: list[tuple[int, str, Any]],
           names: dict[str, str]) -> tuple[tuple[float, float], int, str]:
    """Cameras and access controllers anywhere; links and terminals at the streets' centres in turn."""
    if kind in (DeviceKind.link, DeviceKind.terminal):
        streets = sorted({street_of(code) for _, code, _ in grids})
        street = streets[n % len(streets)]
        gid, code, geom = next(g for g in grids if street_of(g[1]) == street)
        p = geom.representative_point()
        return (p.x, p.y), gid, f"{names[street]}综治中心{KIND_LABELS_ZH[kind]}{n // len(streets) + 1}"
    gid, code, geom = rnd.choice(grids)
    return point_in(rnd, geom), gid, names[community_of_grid(code)] + KIND_LABELS_ZH[kind] + str(n + 1).zfill(3)  # a name, not a code


def load_devices(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026,
                 count: int | None = None) -> dict[str, int]:
    """Register the demo fleet and write its status history up to `now`; the caller commits."""
    rnd = random.Random(seed)
    start = now - timedelta(days=days)
    midnights = local_midnights(now, days)
    grids = [(gid, code, to_shapely(geom)) for gid, code, geom in db_session.execute(
        select(Grid.id, Grid.code, Grid.geom).where(Grid.retired_at.is_(None)).order_by(Grid.code))]
    street_names = dict(db_session.execute(select(Street.code, Street.name)).all())
    streets = sorted(street_names)
    names = street_names | dict(db_session.execute(select(Community.code, Community.name)).all())
    wanted = fleet(count or get_settings().demo_devices or DEFAULT_COUNT, DEMO_PREFIX)
    devices = []
    for n, (code, kind) in enumerate(wanted):
        point, grid_id, name = _place(rnd, kind, n, grids, names)
        late = rnd.random() < 0.08  # installed during the year
        installed = start + (timedelta(days=days * rnd.uniform(0.05, 0.8)) if late else timedelta(0))
        device = new_device(DeviceCreate(code=code, name=name, kind=kind, owner_unit=OWNER[kind],
                                         installed_at=installed, heartbeat_interval_s=HEARTBEAT_S),
                            None, point, grid_id, now)
        db_session.add(device)
        devices.append(device)
    db_session.flush()
    cameras = [d for d in devices if d.kind == DeviceKind.camera]
    dead = rnd.sample(cameras, max(2, round(len(cameras) * DEAD_CAMERAS))) if cameras else []
    grid_code = {gid: code for gid, code, _ in grids}
    intervals, maintenance, alarms = [], [], []
    for device in devices:
        kind = DeviceKind(device.kind)
        installed = device.installed_at
        if kind is DeviceKind.camera:
            street = street_of(grid_code[device.grid_id])
            availability = STREET_CAMERA_AVAILABILITY[streets.index(street) % len(STREET_CAMERA_AVAILABILITY)]
        else:
            availability = KIND_AVAILABILITY[kind]
        offline = _outages(rnd, installed, now, availability)
        windows = _maintenance(rnd, midnights, installed, now)
        if device in dead:
            length = timedelta(days=rnd.uniform(20, 75))
            begin = now - length if device is dead[0] else installed + (now - installed - length) * rnd.random()
            offline.append(Span(max(begin, installed), min(begin + length, now), "timeout"))
        spans = _merged(offline + windows)
        rows = _intervals(device.id, installed, spans, now)
        intervals += rows
        maintenance += [{"device_id": device.id, "start_at": w.start, "end_at": w.end, "reason": "季度例行维护保养",
                         "created_by": "admin", "created_at": w.start - timedelta(days=3)} for w in windows]
        last = rows[-1]
        online = last["status"] == "online"
        seconds = sum(((r["end_at"] or now) - r["start_at"]).total_seconds() for r in rows if r["status"] == "online")
        seen = now if online else last["start_at"]
        state = device.state
        state.status, state.status_since = last["status"], last["start_at"]
        state.online_until = now + timedelta(seconds=HEARTBEAT_S * get_settings().device_tolerance) if online else None
        state.last_seen_at = state.last_ts = seen
        state.heartbeats = state.messages = int(seconds // HEARTBEAT_S)
        if kind is DeviceKind.camera:
            alarms += _alarms(rnd, device.id, installed, now)
    _insert(db_session, DeviceStatusInterval.__table__, intervals)
    _insert(db_session, DeviceMaintenance.__table__, maintenance)
    _insert(db_session, DeviceAlarm.__table__, alarms)
    db_session.flush()
    return {"devices": len(devices), "status_intervals": len(intervals), "maintenance_windows": len(maintenance),
            "alarms": len(alarms)}


def _alarms(rnd: random.Random, device_id: int, installed: datetime, now: datetime) -> list[dict[str, Any]]:
    """About ALARMS_PER_CAMERA_YEAR a year at random moments (an approximately Poisson count)."""
    span = (now - installed).total_seconds()
    mean = ALARMS_PER_CAMERA_YEAR * span / (365 * 86400)
    n = max(0, round(rnd.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0
    out = []
    for seq, ts in enumerate(sorted(installed + timedelta(seconds=rnd.uniform(0, span)) for _ in range(n)), 1):
        alarm_type, level, detail = rnd.choice(CAMERA_ALARMS)
        out.append({"device_id": device_id, "ts": ts, "seq": seq, "alarm_type": alarm_type, "level": level,
                    "detail": detail})
    return out


def _insert(db_session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 5000):
        db_session.execute(insert(table), rows[i:i + 5000])
