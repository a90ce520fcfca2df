"""API shapes for visits (巡查走访)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from server.events.enums import Datum
from server.inputs import ApiDatetime, Line, PhotoKey, Text


class CheckIn(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    at: ApiDatetime | None = None


class VisitCreate(BaseModel):
    uuid: UUID
    started_at: ApiDatetime
    ended_at: ApiDatetime
    datum: Datum
    points: list[CheckIn] = Field(min_length=1, max_length=5000)
    households: list[Annotated[Line, Field(max_length=128)]] = Field(default_factory=list, max_length=200)
    notes: Text | None = Field(default=None, max_length=4000)
    photos: list[PhotoKey] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _order(self) -> VisitCreate:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class VisitRead(BaseModel):
    uuid: str
    worker: str
    grid_code: str | None
    street_code: str | None
    started_at: datetime
    ended_at: datetime
    minutes: float
    points: list[dict[str, object]]
    households: list[str]
    notes: str | None
    photos: list[str]
    counted: bool
    not_counted_reason: str | None
    not_counted_detail: str | None


class VisitPage(BaseModel):
    items: list[VisitRead]
    total: int
    page: int
    page_size: int


class WorkerMonth(BaseModel):
    """Visits of one worker in one month: `counted` is what the 20-per-month target uses."""

    worker: str
    full_name: str
    street_code: str | None
    month: str
    counted: int
    total: int
    target: int
    met: bool
