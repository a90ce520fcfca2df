"""Records the budget tables count: trainings held and weekly situation reports produced."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database.core import Base
from server.database.types import UTCDateTime, utcnow


class Training(Base):
    """网格员业务培训: one session held, for the trainings_held indicator."""

    __tablename__ = "training"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)  # None: district-wide
    district_code: Mapped[str] = mapped_column(String(6))
    attendees: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WeeklyReport(Base):
    """社会治安形势周报: one row per report produced, for weekly_reports_produced."""

    __tablename__ = "weekly_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    week_start: Mapped[date] = mapped_column(Date)  # Monday, local time
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    generated_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    markdown: Mapped[str] = mapped_column(Text)
