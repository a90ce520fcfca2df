"""Counts as indicators (网格员业务培训场次, 社会治安形势周报期数) from the reports domain's records.

The reports domain records trainings and weekly reports; what counts, for which scope and period,
is an indicator definition and so lives here (reports never import indicators).
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gis.codes import area_prefix, district_of, street_of
from server.database.prefix import prefix_range
from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio
from server.reports.models import Training, WeeklyReport


def trainings_held(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """网格员业务培训场次: a count (scale 1, denominator 1); district-wide sessions count for every street."""
    in_scope = prefix_range(Training.street_code, area_prefix(street_of(scope.code))) if scope.level != "district" \
        else Training.district_code == scope.code
    if scope.level in ("street", "community", "grid"):
        in_scope = or_(in_scope, (Training.street_code.is_(None)) & (Training.district_code == district_of(scope.code)))
    n = db_session.scalar(select(func.count(Training.id)).where(
        in_scope, Training.held_at >= period.start, Training.held_at < period.end)) or 0
    return Ratio(float(n), 1.0, scale=1.0)


def weekly_reports_produced(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """社会治安形势周报期数: distinct weeks with a report for the district, produced within the period."""
    n = db_session.scalar(select(func.count(func.distinct(WeeklyReport.week_start))).where(
        WeeklyReport.district_code == district_of(scope.code), WeeklyReport.generated_at >= period.start,
        WeeklyReport.generated_at < period.end)) or 0
    return Ratio(float(n), 1.0, scale=1.0)
