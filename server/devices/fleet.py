"""Registering a simulated fleet (demo, benchmark): devices placed inside random active grids."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.codes import KIND_LABELS_ZH
from devices.simulator import fleet
from server.devices import placement
from server.devices.models import Device
from server.devices.schemas import DeviceCreate
from server.devices.service import new_device
from server.geometry import to_shapely
from server.grids.models import Grid

DEMO_PREFIX = "DEMO"  # the demo's devices: `gridops demo` registers them, the embedded simulator animates them


def register_fleet(*, db_session: Session, count: int, prefix: str = "SIM", interval_s: int = 60,
                   now: datetime, seed: int = 2026) -> int:
    """Register the simulator's devices that are missing; returns how many were added."""
    rng = random.Random(seed)
    wanted = fleet(count, prefix)
    existing = set(db_session.scalars(select(Device.code).where(Device.code.startswith(f"{prefix}-"))))
    missing = [(c, k) for c, k in wanted if c not in existing]
    if not missing:
        return 0
    grids = [to_shapely(g) for g in db_session.scalars(select(Grid.geom).where(Grid.retired_at.is_(None)).limit(2000))]
    points: list[tuple[float, float] | None] = []
    for _ in missing:
        if grids:
            p = rng.choice(grids).representative_point()
            points.append((p.x, p.y))
        else:
            points.append(None)
    grid_ids = placement.grid_ids(db_session, points)
    for (code, kind), point, grid_id in zip(missing, points, grid_ids, strict=True):
        device_in = DeviceCreate(code=code, name=f"模拟{KIND_LABELS_ZH[kind]}{code[-6:]}", kind=kind,
                                 heartbeat_interval_s=interval_s, owner_unit="模拟设备", installed_at=now)
        db_session.add(new_device(device_in, None, point, grid_id, now))
    db_session.flush()
    return len(missing)
