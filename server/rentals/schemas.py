"""API shapes for rentals, tenants, records and rates; personal data masked unless asked for."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from server.devices.schemas import Located
from server.inputs import ApiDatetimeOrDate, Line
from server.sheets import RowError


class TenantStatus(StrEnum):
    pending = "pending"  # detected (new card), not yet registered
    registered = "registered"
    deregistration_candidate = "deregistration_candidate"  # card revoked or no entry for N days
    deregistered = "deregistered"


class RentalCreate(Located):
    address: Line = Field(min_length=1, max_length=256)
    building: Line | None = Field(default=None, max_length=64)
    rooms: int = Field(default=1, ge=1, le=10_000)
    landlord_name: Line = Field(min_length=1, max_length=64)
    landlord_phone: Line | None = Field(default=None, max_length=32)
    managed: bool = False
    managed_at: ApiDatetimeOrDate | None = None


class ManageRequest(BaseModel):
    managed: bool = True
    at: ApiDatetimeOrDate | None = None


class RentalRead(BaseModel):
    id: int
    address: str
    building: str | None
    rooms: int
    landlord_name: str
    landlord_phone: str | None  # masked
    lon: float | None
    lat: float | None
    grid_code: str | None
    managed: bool
    managed_at: datetime | None
    closed_at: datetime | None
    access_controllers: list[str]


class RentalPage(BaseModel):
    items: list[RentalRead]
    total: int
    page: int
    page_size: int


class LinkController(BaseModel):
    device_code: Line = Field(max_length=64)


class TenantCreate(BaseModel):
    name: Line = Field(min_length=1, max_length=64)
    id_type: Literal["resident_id", "other"] = "resident_id"
    id_number: Line = Field(min_length=4, max_length=32)
    phone: Line | None = Field(default=None, max_length=32)
    card_no: Line | None = Field(default=None, max_length=64)
    moved_in_at: ApiDatetimeOrDate | None = None


class TenantRead(BaseModel):
    """Masked: 张*, 440***********123X, 138****5678."""

    id: int
    rental_id: int
    name: str | None
    id_type: str | None
    id_number: str | None
    phone: str | None
    card_no: str | None
    status: TenantStatus
    source: str
    moved_in_at: datetime | None
    registered_at: datetime | None
    deregistered_at: datetime | None
    last_entry_at: datetime | None
    pending_records: list[int] = []


class TenantPage(BaseModel):
    items: list[TenantRead]
    total: int
    page: int
    page_size: int


class TenantRecordRead(BaseModel):
    id: int
    tenant_id: int
    kind: str
    status: str
    source: str
    occurred_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class CardSyncReport(BaseModel):
    events: int
    registrations: int
    deregistrations: int
    no_entry: int


class RentalRateRow(BaseModel):
    key: str
    numerator: int
    denominator: int
    rate: float | None


class RentalRatesRead(BaseModel):
    """rental_managed_rate at `end`; tenant_registration_rate and tenant_deregistration_rate over [start, end)."""

    start: datetime
    end: datetime
    group_by: str
    rental_managed_rate: list[RentalRateRow]
    tenant_registration_rate: list[RentalRateRow]
    tenant_deregistration_rate: list[RentalRateRow]


class PiiAccessRead(BaseModel):
    """One read of full personal data: who, when, which record, which fields."""

    at: datetime
    username: str
    role: str
    record_type: str = Field(description="tenant | rental")
    record_id: int
    fields: str = Field(description="comma-separated, e.g. name,id_number,phone")


class RentalImportReport(BaseModel):
    """A ledger import: what was (committed) or would be written; errors per file, zh + en, never a personal value."""

    rental_rows: int
    tenant_rows: int
    rentals_new: int = Field(description="rentals created, or to be created when applied")
    rentals_unchanged: int = Field(description="rows for rentals already registered (same address and building)")
    tenants_new: int
    tenants_unchanged: int
    rental_errors: list[RowError]
    tenant_errors: list[RowError]
    committed: bool


class PiiImportRead(BaseModel):
    """One import that wrote personal data: who (a user, or cli:<login>), when, which file, how many records."""

    at: datetime
    actor: str
    channel: str = Field(description="api | cli")
    filename: str
    sha256: str
    rentals: int
    tenants: int
    fields: str = Field(description="comma-separated personal fields the file carried")
