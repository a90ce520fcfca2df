"""One ingester batch: the rows a set of messages (and a sweep) produce, written in one transaction.

Every write is an executemany of plain rows (SQLAlchemy Core), so a batch of a thousand
heartbeats costs a handful of statements: device_state updates for the devices touched,
interval closes and inserts for the status changes, and inserts for events and dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from devices.status import UNKNOWN, State, Transition
from server.database.feed_order import lock_feed
from server.devices.models import (
    CardEvent, DeadLetter, DeviceAlarm, DeviceState, DeviceStatusInterval, DoorEvent,
)

STATE = DeviceState.__table__
INTERVAL = DeviceStatusInterval.__table__
_STATE_UPDATE = (
    update(STATE).where(STATE.c.device_id == bindparam("b_device_id")).values(
        status=bindparam("b_status"), status_since=bindparam("b_since"), online_until=bindparam("b_until"),
        last_seen_at=bindparam("b_seen"), last_ts=bindparam("b_ts"), last_seq=bindparam("b_seq"),
        heartbeats=bindparam("b_heartbeats"), messages=bindparam("b_messages"), recent_keys=bindparam("b_keys"))
)
_CLOSE_OPEN = (
    update(INTERVAL).where(INTERVAL.c.device_id == bindparam("b_device_id"), INTERVAL.c.end_at.is_(None))
    .values(end_at=bindparam("b_end"))
)


@dataclass
class Batch:
    dead: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    doors: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[int, State] = field(default_factory=dict)
    close_open: dict[int, datetime] = field(default_factory=dict)
    intervals: list[dict[str, Any]] = field(default_factory=list)
    heartbeat_ts: list[datetime] = field(default_factory=list)  # for the lag figures
    _open: dict[int, dict[str, Any]] = field(default_factory=dict)

    def touch(self, device_id: int, state: State) -> None:
        self.touched[device_id] = state

    def transition(self, device_id: int, t: Transition) -> None:
        """Close the interval this batch opened, or the one open in the database; open the next."""
        row = self._open.pop(device_id, None)
        if row is not None:
            row["end_at"] = t.at
        elif t.previous != UNKNOWN:
            self.close_open[device_id] = t.at
        new = {"device_id": device_id, "status": t.status, "start_at": t.at, "end_at": None, "reason": t.reason}
        self.intervals.append(new)
        self._open[device_id] = new

    def __len__(self) -> int:
        return len(self.dead) + len(self.touched) + len(self.intervals)


def _state_row(device_id: int, s: State) -> dict[str, Any]:
    return {"b_device_id": device_id, "b_status": s.status, "b_since": s.since, "b_until": s.online_until,
            "b_seen": s.last_seen_at, "b_ts": s.last_ts, "b_seq": s.last_seq, "b_heartbeats": s.heartbeats,
            "b_messages": s.messages, "b_keys": s.keys_text()}


def write(db_session: Session, batch: Batch) -> None:
    """All rows of the batch; the caller commits (and only then acknowledges the messages)."""
    if batch.close_open or batch.intervals:  # the device feed's rows, in commit order (feed_order)
        lock_feed(db_session, DeviceStatusInterval)
    conn = db_session.connection()
    if batch.dead:
        conn.execute(insert(DeadLetter.__table__), batch.dead)
    if batch.close_open:
        conn.execute(_CLOSE_OPEN, [{"b_device_id": d, "b_end": at} for d, at in batch.close_open.items()])
    intervals = [r for r in batch.intervals if r["end_at"] is None or r["end_at"] > r["start_at"]]
    if intervals:
        conn.execute(insert(INTERVAL), intervals)
    for model, rows in ((DeviceAlarm, batch.alarms), (DoorEvent, batch.doors), (CardEvent, batch.cards)):
        if rows:
            conn.execute(insert(model.__table__), rows)
    if batch.touched:
        conn.execute(_STATE_UPDATE, [_state_row(d, s) for d, s in batch.touched.items()])
