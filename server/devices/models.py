"""Devices: the registry, their live state, status intervals, maintenance, events and dead letters.

Status is kept as intervals (one row per change), not one row per heartbeat, so a year of
20,000 devices at a 60 s heartbeat stays a few hundred thousand rows instead of ten billion.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.crs import CGCS2000
from server.database.core import Base
from server.database.feed_order import commit_ordered
from server.database.types import UTCDateTime, utcnow
from server.grids.models import Grid


class Device(Base):
    """A registered device; `code` is its MQTT username and topic level, fixed once issued."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    gb_code: Mapped[str | None] = mapped_column(String(20), unique=True)  # GB/T 28181 id of a camera
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24), index=True)
    location = mapped_column(Geometry("POINT", srid=CGCS2000, spatial_index=True), nullable=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(256))
    owner_unit: Mapped[str | None] = mapped_column(String(128))
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    heartbeat_interval_s: Mapped[int] = mapped_column(Integer, default=60)
    secret_hash: Mapped[str | None] = mapped_column(String(160))  # Mosquitto $7$ PBKDF2-SHA512
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    grid: Mapped[Grid | None] = relationship()
    state: Mapped[DeviceState] = relationship(uselist=False, lazy="joined", back_populates="device")


class DeviceState(Base):
    """Live state, written by the ingester only: current status and the replay key (last ts, seq)."""

    __tablename__ = "device_state"

    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), default="unknown")  # online | offline | unknown
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    online_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last heartbeat + interval × tolerance
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # arrival of the last accepted message
    last_ts: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    heartbeats: Mapped[int] = mapped_column(BigInteger, default=0)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    recent_keys: Mapped[str | None] = mapped_column(Text)  # devices.status.State.keys_text(): dedup window
    device: Mapped[Device] = relationship(back_populates="state")


class DeviceStatusInterval(Base):
    """[start_at, end_at) in one status; end_at null while it lasts. Reason: what started it."""

    __tablename__ = "device_status_interval"
    __table_args__ = (Index("ix_device_status_interval_device_start", "device_id", "start_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # heartbeat | status | will | timeout


class DeviceMaintenance(Base):
    """A planned maintenance window: excluded from expected time in availability."""

    __tablename__ = "device_maintenance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(256))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeadLetter(Base):
    """A message the ingester refused, kept for inspection with the reason."""

    __tablename__ = "device_dead_letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    topic: Mapped[str] = mapped_column(String(256))
    device_code: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(512))
    payload: Mapped[str] = mapped_column(Text)  # decoded with replacement, at most 4 KiB


class DeviceAlarm(Base):
    __tablename__ = "device_alarm"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    alarm_type: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(512))


class DoorEvent(Base):
    __tablename__ = "device_door_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    door: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    card_no: Mapped[str | None] = mapped_column(String(64))


class CardEvent(Base):
    """Card issued/revoked/entry/denied at an access controller: the tenant register reads these."""

    __tablename__ = "device_card_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    card_no: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))


# the interval id is the device feed's cursor (GET /devices/feed): taken in commit order (see feed_order)
commit_ordered(DeviceStatusInterval)
