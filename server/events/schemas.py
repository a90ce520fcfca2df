"""API shapes for events, transitions, disputes and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from server.events.enums import Datum, EventState, Satisfaction, TimeLimitStep
from server.inputs import ApiDatetime, Line, PhotoKey, Text

Sha256 = str  # 64 lowercase hex chars, checked by the pattern below
SHA_PATTERN = r"^[0-9a-f]{64}$"


class Party(BaseModel):
    name: Line = Field(min_length=1, max_length=64)
    role: Line = Field(default="party", max_length=32)  # 申请人 / 被申请人 …
    phone: Line | None = Field(default=None, max_length=32)


class DisputeIn(BaseModel):
    parties: list[Party] = Field(min_length=1, max_length=50)


class EventCreate(BaseModel):
    """What a phone sends. `uuid` is generated on the phone: retries carry the same one."""

    uuid: UUID
    category_code: Line = Field(min_length=1, max_length=64)
    description: Text = Field(min_length=1, max_length=4000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    datum: Datum = Field(description="datum of lon/lat as the phone sent them: wgs84, gcj02, bd09 or cgcs2000")
    gps_accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    location_mock: bool | None = Field(default=None, description="true when the phone's location came from a mock "
                                       "provider (Android's isMock): kept and shown, the point is still used")
    address: Line | None = Field(default=None, max_length=256)
    reported_at: ApiDatetime
    photos: list[str] = Field(default_factory=list, max_length=20)
    dispute: DisputeIn | None = None

    @model_validator(mode="after")
    def _photo_keys(self) -> EventCreate:
        import re

        bad = [p for p in self.photos if not re.fullmatch(SHA_PATTERN, p)]
        if bad:
            raise ValueError(f"photos must be sha256 keys returned by POST /photos: {bad[:3]}")
        return self


class TransitionIn(BaseModel):
    to_state: EventState
    note: Text | None = Field(default=None, max_length=4000)
    dispatched_to: Line | None = Field(default=None, max_length=128)
    rejection_reason: Text | None = Field(default=None, max_length=2000)
    satisfaction: Satisfaction | None = None
    merged_into: UUID | None = None
    photos: list[PhotoKey] = Field(default_factory=list, max_length=20)


class EventPhotosIn(BaseModel):
    """Report photos that arrived after the event (the app sends the event first, its photos when the
    network allows): added to the event's `photos`; keys already there are ignored, so a retry is harmless."""

    photos: list[PhotoKey] = Field(min_length=1, max_length=20)


class DisputeUpdate(BaseModel):
    mediation_result: str | None = Field(default=None, pattern=r"^(success|failure|transferred)$")
    mediated_at: ApiDatetime | None = None
    replied_at: ApiDatetime | None = None
    parties: list[Party] | None = None


class DisputeRead(BaseModel):
    parties: list[dict[str, Any]]
    mediation_result: str | None
    mediated_at: datetime | None
    reply_due_at: datetime
    replied_at: datetime | None
    replied_within_30_days: bool | None


class HistoryRead(BaseModel):
    id: int
    kind: str
    from_state: str | None
    to_state: str
    actor: str | None
    actor_role: str | None
    at: datetime
    note: str | None
    attachments: list[str]
    data: dict[str, Any]


class EventRead(BaseModel):
    uuid: str
    serial: str = Field(description="the event number people say on the phone: year reported and a number per "
                                    "district and year (2026-000123); empty only for bulk-loaded rows not numbered yet")
    category_code: str
    category_name: str
    description: str
    address: str | None
    lon: float
    lat: float
    gps_accuracy_m: float | None
    location_mock: bool | None
    grid_code: str
    street_code: str
    reporter: str
    state: EventState
    state_zh: str
    allowed_next: list[EventState]
    reported_at: datetime
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    closure_due_at: datetime
    overdue: bool
    step_overdue: bool
    closed_at: datetime | None
    closed_on_time: bool | None
    dispatched_to: str | None
    rejection_reason: str | None
    satisfaction: Satisfaction | None
    possible_duplicate_of: str | None
    merged_into: str | None
    photos: list[str]
    dispute: DisputeRead | None = None
    history: list[HistoryRead] | None = None


class EventPage(BaseModel):
    items: list[EventRead]
    total: int
    page: int
    page_size: int


class CategoryIn(BaseModel):
    name: Line = Field(min_length=1, max_length=64)
    parent_code: Line | None = Field(default=None, max_length=64)
    active: bool = True


class CategoryRead(BaseModel):
    code: str
    name: str
    parent_code: str | None
    active: bool


class TimeLimitIn(BaseModel):
    time_limit: Line = Field(max_length=16, description="8wh, 3wd (working hours/days), 24h, 30d (calendar)")


class TimeLimitRead(BaseModel):
    category_code: str
    step: TimeLimitStep
    time_limit: str


class Change(BaseModel):
    cursor: int
    event_uuid: str
    kind: str
    from_state: str | None
    to_state: str
    at: datetime


class ChangePage(BaseModel):
    """Changes after `cursor`, oldest first; pass `next_cursor` back to continue."""

    changes: list[Change]
    next_cursor: int
    has_more: bool
