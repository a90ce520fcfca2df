"""API shapes for devices, their status, import reports and online rates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.codes import DeviceKind
from server.inputs import ApiDatetime, ApiDatetimeOrDate, Line, Text
from server.sheets import RowError  # noqa: F401  (public here: the device import report holds it)

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class DeviceStatus(StrEnum):
    online = "online"
    offline = "offline"
    unknown = "unknown"  # registered, never heard from


class Located(BaseModel):
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    datum: Line = Field(default="cgcs2000", max_length=16,
                        description="wgs84, gcj02, bd09 or cgcs2000; converted to CGCS2000")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Located:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class DeviceCreate(Located):
    code: str = Field(pattern=CODE_PATTERN, description="MQTT username and topic level; GB/T 28181 id for cameras")
    gb_code: Line | None = Field(default=None, max_length=64, description="20-digit GB/T 28181 id of a camera")
    name: Line = Field(min_length=1, max_length=128)
    kind: DeviceKind
    address: Line | None = Field(default=None, max_length=256)
    owner_unit: Line | None = Field(default=None, max_length=128)
    installed_at: ApiDatetimeOrDate | None = Field(default=None, description="a date is midnight Asia/Shanghai")
    heartbeat_interval_s: int = Field(default=60, ge=5, le=86400)


class DeviceUpdate(Located):
    name: Line | None = Field(default=None, min_length=1, max_length=128)
    address: Line | None = Field(default=None, max_length=256)
    owner_unit: Line | None = Field(default=None, max_length=128)
    installed_at: ApiDatetimeOrDate | None = None
    heartbeat_interval_s: int | None = Field(default=None, ge=5, le=86400)


class DeviceRetireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retired_at: ApiDatetimeOrDate | None = Field(
        default=None, description="default now; not before the installation, not in the future")


class DeviceRead(BaseModel):
    code: str
    gb_code: str | None
    name: str
    kind: DeviceKind
    kind_zh: str
    lon: float | None
    lat: float | None
    grid_code: str | None
    street_code: str | None
    address: str | None
    owner_unit: str | None
    installed_at: datetime | None
    retired_at: datetime | None
    heartbeat_interval_s: int
    status: DeviceStatus
    status_since: datetime | None
    last_seen_at: datetime | None
    has_credentials: bool


class IntervalRead(BaseModel):
    status: DeviceStatus
    start_at: datetime
    end_at: datetime | None
    reason: str


class MaintenanceCreate(BaseModel):
    start_at: ApiDatetime
    end_at: ApiDatetime
    reason: Text = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceCreate:
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class MaintenanceRead(BaseModel):
    """As stored: the input rules (MaintenanceCreate) are not applied again to what is read."""

    start_at: datetime
    end_at: datetime
    reason: str
    created_by: str | None


class DeviceDetail(DeviceRead):
    online_until: datetime | None
    heartbeats: int
    messages: int
    recent_intervals: list[IntervalRead]
    maintenance: list[MaintenanceRead]


class DevicePage(BaseModel):
    items: list[DeviceRead]
    total: int
    page: int
    page_size: int


class Credentials(BaseModel):
    """Shown once: only the hash is stored (in Mosquitto's password_file format)."""

    code: str
    username: str
    secret: str


class DeviceCreated(BaseModel):
    device: DeviceRead
    credentials: Credentials


class DeviceImportReport(BaseModel):
    """What an import did or, refused / dry run, would have done; nothing is half-imported."""

    rows: int
    created: list[str]
    errors: list[RowError]
    committed: bool
    credentials: list[Credentials] = []


class DeadLetterRead(BaseModel):
    id: int
    received_at: datetime
    topic: str
    device_code: str | None
    reason: str
    detail: str
    payload: str


class DeadLetterPage(BaseModel):
    items: list[DeadLetterRead]
    total: int
    counts: dict[str, int]
    page: int
    page_size: int


class RateMode(StrEnum):
    snapshot = "snapshot"
    availability = "availability"


class GroupBy(StrEnum):
    kind = "kind"
    grid = "grid"
    street = "street"
    district = "district"


class RateRow(BaseModel):
    key: str
    label: str
    numerator: float = Field(description="snapshot: devices online; availability: online seconds")
    denominator: float = Field(description="snapshot: devices in service; availability: expected seconds")
    devices: int
    online_rate: float | None


class OnlineRateRead(BaseModel):
    mode: RateMode
    group_by: GroupBy
    at: datetime | None
    start: datetime | None
    end: datetime | None
    groups: list[RateRow]
    total: RateRow


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[float, float] = Field(description="lon, lat in EPSG:4490 (CGCS2000; WGS-84 to the metre)")


class DeviceMapProperties(BaseModel):
    code: str
    kind: DeviceKind
    name: str
    status: DeviceStatus
    online: bool
    grid_code: str | None


class DeviceMapFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the device code")
    geometry: PointGeometry | None = Field(description="null for a device registered without a location")
    properties: DeviceMapProperties


class DeviceFeatureCollection(BaseModel):
    """Every device in service in the caller's territory (RFC 7946), and where the status feed resumes."""

    type: Literal["FeatureCollection"]
    features: list[DeviceMapFeature]
    cursor: int = Field(description="the device feed's cursor when these statuses were read: GET /devices/feed"
                                    "?cursor=… (or Last-Event-ID) delivers every change after them")


class DeviceStatusChange(BaseModel):
    """One message of GET /devices/feed: a device entered a status at `at`."""

    cursor: int = Field(description="the change's id: resume after it with ?cursor= or Last-Event-ID")
    code: str
    kind: DeviceKind
    status: DeviceStatus
    online: bool
    at: datetime = Field(description="when the status began (a time-out: when the device was last due)")
    lon: float | None
    lat: float | None
    grid_code: str | None
