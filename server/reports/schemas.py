"""API shapes for trainings and weekly reports."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from server.inputs import ApiDatetime, Line, Text


class TrainingIn(BaseModel):
    title: Line = Field(min_length=1, max_length=128)
    held_at: ApiDatetime
    street_code: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    attendees: int = Field(ge=1, le=100_000)
    notes: Text | None = Field(default=None, max_length=4000)


class TrainingRead(BaseModel):
    """As stored: the input rules (TrainingIn) are not applied again to what is read."""

    id: int
    title: str
    held_at: datetime
    street_code: str | None
    attendees: int
    notes: str | None
    district_code: str


class WeeklyReportRead(BaseModel):
    id: int
    week_start: date
    generated_at: datetime
    markdown: str
