"""The ingester's in-memory view of the registry: device code → id, kind, interval, retirement,
and every device's live state. Loaded at start; devices registered later are looked up on
first sight (unknown codes are re-checked at most every `miss_ttl_s`). With shards, only the
shard's own devices (devices.shards)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.shards import EVERY_DEVICE, Shard
from devices.status import State
from server.devices.models import Device, DeviceState


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    kind: str
    interval_s: int
    retired_at: datetime | None


def _state(row: DeviceState) -> State:
    state = State(status=row.status, since=row.status_since, online_until=row.online_until, last_ts=row.last_ts,
                  last_seq=row.last_seq, last_seen_at=row.last_seen_at, heartbeats=row.heartbeats,
                  messages=row.messages)
    state.load_keys(row.recent_keys)
    return state


class Registry:
    def __init__(self, miss_ttl_s: float = 30.0, refresh_s: float = 60.0, shard: Shard = EVERY_DEVICE) -> None:
        self.shard = shard
        self.on_load: Callable[[Iterable[str]], object] | None = None  # the shard's device codes, at each (re)load
        self.by_code: dict[str, DeviceInfo] = {}
        self.states: dict[int, State] = {}
        self.miss_ttl_s = miss_ttl_s
        self.refresh_s = refresh_s
        self._misses: dict[str, float] = {}
        self._refreshed = 0.0

    def load(self, db: Session) -> None:
        """Everything, states included: at start and after a failed batch."""
        self._load_devices(db)
        ids = {info.id for info in self.by_code.values()}
        self.states = {row.device_id: _state(row) for row in db.scalars(select(DeviceState)) if row.device_id in ids}

    def _load_devices(self, db: Session) -> None:
        rows = db.execute(select(Device.id, Device.code, Device.kind, Device.heartbeat_interval_s, Device.retired_at))
        self.by_code = {r.code: DeviceInfo(r.id, r.kind, r.heartbeat_interval_s, r.retired_at) for r in rows
                        if self.shard.owns(r.code)}
        self._misses.clear()
        self._refreshed = time.monotonic()
        if self.on_load is not None:
            self.on_load(self.by_code)

    def refresh_if_due(self, db: Session) -> None:
        """Pick up changed intervals and retirements; live states stay as the ingester keeps them."""
        if time.monotonic() - self._refreshed >= self.refresh_s:
            self._load_devices(db)

    def lookup(self, db: Session, code: str) -> DeviceInfo | None:
        info = self.by_code.get(code)
        if info is not None:
            if info.id not in self.states:  # registered after the states were loaded
                self._add_state(db, info.id)
            return info
        missed = self._misses.get(code)
        if missed is not None and time.monotonic() - missed < self.miss_ttl_s:
            return None
        row = db.execute(select(Device.id, Device.kind, Device.heartbeat_interval_s, Device.retired_at)
                         .where(Device.code == code)).first()
        if row is None:
            if len(self._misses) > 100_000:
                self._misses.clear()
            self._misses[code] = time.monotonic()
            return None
        info = DeviceInfo(row.id, row.kind, row.heartbeat_interval_s, row.retired_at)
        self.by_code[code] = info
        if info.id not in self.states:
            self._add_state(db, info.id)
        return info

    def _add_state(self, db: Session, device_id: int) -> None:
        state = db.get(DeviceState, device_id)
        self.states[device_id] = _state(state) if state is not None else State()
