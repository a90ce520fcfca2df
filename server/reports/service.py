"""Trainings and weekly reports: recording them and producing the report (server.indicators counts both)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gis.codes import area_prefix, district_of, street_of
from metrics.weekly_report import WeeklyReportFiles, render_markdown, write_weekly_report
from server.auth.enums import Role
from server.auth.models import User
from server.database.prefix import prefix_range
from server.errors import Forbidden
from server.reports import weekly
from server.reports.models import Training, WeeklyReport
from server.reports.schemas import TrainingIn


def add_training(*, db_session: Session, user: User, data: TrainingIn) -> Training:
    """Street admins record their street's trainings; district admins any in their district."""
    street = data.street_code
    if Role(user.role) is Role.street_admin:
        if street not in (None, user.street_code):
            raise Forbidden("trainings of another street", "不能登记其他街道的培训", code="scope_forbidden")
        street = user.street_code
    elif street and not street.startswith(user.district_code or "-"):
        raise Forbidden("street outside your district", "街道不在本区范围内", code="scope_forbidden")
    row = Training(title=data.title, held_at=data.held_at, street_code=street, district_code=user.district_code or "",
                   attendees=data.attendees, notes=data.notes, created_by=user.id)
    db_session.add(row)
    db_session.flush()
    return row


def produce_weekly(*, db_session: Session, district_code: str, area: str, week_start: date, now: datetime,
                   user: User | None, out_dir: Path | None = None,
                   read_session: Session | None = None) -> tuple[WeeklyReport, WeeklyReportFiles | None]:
    """Gather the week, render Markdown (and docx/charts into out_dir if given), log the report. The
    week is gathered in `read_session` if given (the API's: SQLite's write lock then covers the insert only)."""
    summary = weekly.summary(db_session=read_session or db_session, district_code=district_code, area=area,
                             week_start=weekly.week_of(week_start), now=now)
    files = write_weekly_report(summary, out_dir) if out_dir is not None else None
    markdown = files.markdown.read_text(encoding="utf-8") if files else render_markdown(summary)
    row = WeeklyReport(district_code=district_code, week_start=summary.week_start, generated_at=now,
                       generated_by=user.id if user else None, markdown=markdown)
    db_session.add(row)
    db_session.flush()
    return row, files
