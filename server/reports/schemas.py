"""API shapes for trainings and weekly reports."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field


class TrainingIn(BaseModel):
    title: str = Field(min_length=1, max_length=128)
    held_at: AwareDatetime
    street_code: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    attendees: int = Field(ge=1, le=100_000)
    notes: str | None = Field(default=None, max_length=4000)


class TrainingRead(TrainingIn):
    id: int
    held_at: datetime  # type: ignore[assignment]
    district_code: str


class WeeklyReportRead(BaseModel):
    id: int
    week_start: date
    generated_at: datetime
    markdown: str
