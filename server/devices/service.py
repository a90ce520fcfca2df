"""Device registry: scoped reads, registration, changes, retirement, credentials, maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from common.errors import InputError
from devices import credentials
from devices.codes import DeviceKind, check_gb28181
from gis.codes import area_prefix
from server.auth.models import User
from server.devices import placement
# Public: rentals are placed by the same rule (datum on input, border point → smallest grid code).
from server.devices.placement import as_utc, db_point, grid_ids, lon_lat, to_point  # noqa: F401
from server.devices.models import Device, DeviceMaintenance, DeviceState, DeviceStatusInterval
# Public: online rates (在线率) are the devices domain's definition; indicators sum them per scope.
from server.devices.rates import NO_GRID, load, online_rate  # noqa: F401
from server.devices.schemas import DeviceCreate, DeviceUpdate, MaintenanceCreate
from server.devices.scope import DeviceFilter, scoped_query, visible
from server.errors import Conflict, InvalidInput, NotFound


RETIRE_AHEAD = timedelta(minutes=5)  # clock skew allowed to a retirement sent as "now" by a client


def list_devices(*, db_session: Session, user: User, flt: DeviceFilter, now: datetime, page: int = 1,
                 page_size: int = 50) -> tuple[list[Device], int]:
    """One page of the devices the user may see, by code, and the total for the pager."""
    q = scoped_query(user, flt, now)
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db_session.scalars(q.options(joinedload(Device.grid)).order_by(Device.code)
                              .offset((page - 1) * page_size).limit(page_size))
    return list(rows.unique()), total


def get_by_code(*, db_session: Session, code: str) -> Device | None:
    return db_session.scalar(select(Device).where(Device.code == code))


def get_visible(*, db_session: Session, user: User | None, code: str, now: datetime) -> Device:
    """404 for devices out of scope, so codes outside one's area do not leak."""
    device = db_session.scalar(select(Device).where(Device.code == code, visible(user, now)))
    if device is None:
        raise NotFound(f"device {code} not found", f"设备 {code} 不存在", code="device_not_found")
    return device


def gb_code_for(device_in: DeviceCreate) -> str | None:
    """The GB/T 28181 id: given explicitly, or a camera's 20-digit device code."""
    gb = device_in.gb_code
    if gb is None and device_in.kind is DeviceKind.camera and len(device_in.code) == 20 and device_in.code.isdigit():
        gb = device_in.code
    if gb is not None and device_in.kind is not DeviceKind.camera:
        raise InvalidInput("only cameras carry a GB/T 28181 id", "只有视频监控点位有国标编码", code="gb_code_not_camera")
    if gb is None:
        return None
    try:
        return check_gb28181(gb)
    except InputError as exc:
        raise InvalidInput(exc.message_en, exc.message_zh, code=exc.code) from None


def _unique(db_session: Session, code: str, gb_code: str | None) -> None:
    if get_by_code(db_session=db_session, code=code) is not None:
        raise Conflict(f"device {code} exists (codes are never reused)", f"设备编码 {code} 已存在",
                       code="device_exists")
    if gb_code and db_session.scalar(select(Device.id).where(Device.gb_code == gb_code)) is not None:
        raise Conflict(f"GB/T 28181 id {gb_code} is registered", f"国标编码 {gb_code} 已登记", code="gb_code_exists")


def new_device(device_in: DeviceCreate, gb_code: str | None, point: tuple[float, float] | None,
               grid_id: int | None, now: datetime) -> Device:
    """The row for a checked registration, with its empty state (no database access)."""
    device = Device(
        code=device_in.code, gb_code=gb_code, name=device_in.name, kind=device_in.kind.value,
        location=placement.db_point(*point) if point else None, grid_id=grid_id, address=device_in.address,
        owner_unit=device_in.owner_unit, installed_at=placement.as_utc(device_in.installed_at),
        heartbeat_interval_s=device_in.heartbeat_interval_s, created_at=now,
    )
    device.state = DeviceState(status="unknown", heartbeats=0, messages=0)
    return device


def create(*, db_session: Session, device_in: DeviceCreate, now: datetime) -> tuple[Device, str]:
    """Register a device and issue its MQTT secret, returned once (only its hash is kept)."""
    gb_code = gb_code_for(device_in)
    _unique(db_session, device_in.code, gb_code)
    point = placement.to_point(device_in.lon, device_in.lat, device_in.datum) if device_in.lon is not None else None
    device = new_device(device_in, gb_code, point, placement.grid_ids(db_session, [point])[0], now)
    secret = credentials.new_secret()
    device.secret_hash = credentials.hash_secret(secret)
    db_session.add(device)
    db_session.flush()
    return device, secret


def update(*, db_session: Session, device: Device, changes: DeviceUpdate) -> Device:
    """Change descriptive fields; a new location is re-assigned to its grid."""
    data = changes.model_dump(exclude_unset=True, exclude={"lon", "lat", "datum"})
    if "installed_at" in data:
        data["installed_at"] = placement.as_utc(changes.installed_at)
        _check_service_span(data["installed_at"], device.retired_at)
    for key, value in data.items():
        if value is not None or key in ("address", "owner_unit", "installed_at"):
            setattr(device, key, value)
    if changes.lon is not None and changes.lat is not None:
        point = placement.to_point(changes.lon, changes.lat, changes.datum)
        device.location = placement.db_point(*point)
        device.grid_id = placement.grid_ids(db_session, [point])[0]
    db_session.flush()
    return device


def _check_service_span(installed_at: datetime | None, retired_at: datetime | None) -> None:
    """A device leaves service after it entered it (no installation date: before anything we know of)."""
    if installed_at is not None and retired_at is not None and retired_at < installed_at:
        raise InvalidInput(f"retired_at {retired_at:%Y-%m-%d %H:%M}Z is before installed_at "
                           f"{installed_at:%Y-%m-%d %H:%M}Z", "撤除时间早于安装时间", code="retired_before_installed",
                           detail={"installed_at": installed_at.isoformat(), "retired_at": retired_at.isoformat()})


def retire(*, db_session: Session, device: Device, at: datetime, now: datetime) -> Device:
    """Retired devices leave expected time from `at` on; the code stays taken forever."""
    if device.retired_at is not None:
        raise Conflict(f"device {device.code} is already retired", f"设备 {device.code} 已撤除", code="device_retired")
    if at > now + RETIRE_AHEAD:  # a retirement is recorded, not planned: planned outages are maintenance windows
        raise InvalidInput("retired_at is in the future", "撤除时间不能晚于当前时间", code="retired_in_future",
                           detail={"retired_at": at.isoformat(), "now": now.isoformat()})
    _check_service_span(device.installed_at, at)
    device.retired_at = at
    device.secret_hash = None  # the broker refuses it from the next password_file on
    db_session.flush()
    return device


def rotate_secret(*, db_session: Session, device: Device) -> str:
    if device.retired_at is not None:
        raise Conflict(f"device {device.code} is retired", f"设备 {device.code} 已撤除", code="device_retired")
    secret = credentials.new_secret()
    device.secret_hash = credentials.hash_secret(secret)
    db_session.flush()
    return secret


def add_maintenance(*, db_session: Session, device: Device, window: MaintenanceCreate,
                    actor: str | None, now: datetime) -> DeviceMaintenance:
    row = DeviceMaintenance(device_id=device.id, start_at=window.start_at, end_at=window.end_at,
                            reason=window.reason, created_by=actor, created_at=now)
    db_session.add(row)
    db_session.flush()
    return row


def maintenance_of(*, db_session: Session, device: Device, since: datetime | None = None) -> list[DeviceMaintenance]:
    q = select(DeviceMaintenance).where(DeviceMaintenance.device_id == device.id)
    if since:
        q = q.where(DeviceMaintenance.end_at > since)
    return list(db_session.scalars(q.order_by(DeviceMaintenance.start_at)))


def intervals_of(*, db_session: Session, device: Device, limit: int = 20) -> list[DeviceStatusInterval]:
    q = (select(DeviceStatusInterval).where(DeviceStatusInterval.device_id == device.id)
         .order_by(DeviceStatusInterval.start_at.desc(), DeviceStatusInterval.id.desc()).limit(limit))
    return list(db_session.scalars(q))


def password_entries(*, db_session: Session) -> list[tuple[str, str]]:
    """(username, hash) of every device in service that holds credentials, for the password_file."""
    q = select(Device.code, Device.secret_hash).where(Device.secret_hash.is_not(None), Device.retired_at.is_(None))
    return [(code, hashed) for code, hashed in db_session.execute(q.order_by(Device.code))]


def status_counts(*, db_session: Session, grid_id: int, now: datetime) -> dict[str, int]:
    """Devices in service in a grid by live status: online, offline, unknown (never heard from) and total."""
    q = (select(DeviceState.status, func.count()).join(Device, Device.id == DeviceState.device_id)
         .where(Device.grid_id == grid_id, or_(Device.retired_at.is_(None), Device.retired_at > now))
         .group_by(DeviceState.status))
    counts = {"online": 0, "offline": 0, "unknown": 0, **dict(db_session.execute(q).all())}
    return {**counts, "total": sum(counts.values())}
