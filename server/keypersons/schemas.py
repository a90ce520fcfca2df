"""API shapes of the key-person register: masked by default, full only on the audited /pii read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from server.inputs import ApiDatetime, Line, Text

FollowUp = Literal["up_to_date", "due_soon", "overdue"]


class KeyPersonCreate(BaseModel):
    type_code: Annotated[Line, Field(max_length=32)]
    name: Annotated[Line, Field(min_length=1, max_length=64)]
    id_type: Literal["resident_id", "other"] = "resident_id"
    id_number: Annotated[Line, Field(max_length=32)] | None = None
    phone: Annotated[Line, Field(max_length=32)] | None = None
    address: Annotated[Line, Field(max_length=256)] | None = None
    grid_code: Annotated[Line, Field(max_length=19)] | None = Field(
        default=None, description="the grid of the person's household; or give rental_id")
    rental_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    registered_at: ApiDatetime | None = None

    @model_validator(mode="after")
    def _placed(self) -> KeyPersonCreate:
        if (self.grid_code is None) == (self.rental_id is None):
            raise ValueError("give exactly one of grid_code (a household) or rental_id")
        return self


class KeyPersonRemove(BaseModel):
    reason: Annotated[Line, Field(min_length=1, max_length=256)]


class UpdateCreate(BaseModel):
    """An information update, recorded once per client uuid (a retry returns the first)."""

    uuid: UUID
    at: ApiDatetime
    note: Text | None = Field(default=None, max_length=2000)
    visit_uuid: UUID | None = Field(default=None, description="the visit during which it was recorded (巡查走访)")


class UpdateRead(BaseModel):
    uuid: str
    at: datetime
    actor: str
    visit_uuid: str | None
    note: str | None  # masked ("***") except on the audited /pii read


class KeyPersonRead(BaseModel):
    id: int
    type_code: str
    type_name: str
    name: str
    id_type: str
    id_number: str | None
    phone: str | None
    address: str | None
    grid_code: str
    street_code: str
    rental_id: int | None
    registered_at: datetime
    removed_at: datetime | None
    removed_reason: str | None
    interval_days: int
    last_update_at: datetime | None
    next_due_at: datetime
    follow_up: FollowUp
    masked: bool
    updates: list[UpdateRead] | None = None


class KeyPersonPage(BaseModel):
    items: list[KeyPersonRead]
    total: int
    page: int
    page_size: int


class KeyPersonTypeRead(BaseModel):
    code: str
    name_zh: str
    interval_days: int
    indicator: str | None
