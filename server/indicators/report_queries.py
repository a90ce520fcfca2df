"""Counts as indicators (网格员业务培训场次, 社会治安形势周报期数) from the reports domain's records.

The reports domain records trainings and weekly reports; what counts, for which scope and period,
is an indicator definition and so lives here (reports never import indicators).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.codes import area_prefix, district_of, street_of
from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio
from server.reports.models import Training, WeeklyReport


def trainings_held(db_session: Session, scopes: Sequence[Scope], period: Period) -> dict[Scope, Ratio]:
    """网格员业务培训场次: a count (scale 1, denominator 1); district-wide sessions (no street) count
    for every street of their district. One grouped statement for every scope."""
    counts: Counter[tuple[str, str | None]] = Counter()
    for district, street, n in db_session.execute(
            select(Training.district_code, Training.street_code, func.count(Training.id))
            .where(Training.held_at >= period.start, Training.held_at < period.end)
            .group_by(Training.district_code, Training.street_code)):
        counts[district, street] += n

    def held(scope: Scope) -> int:
        if scope.level == "district":
            return sum(n for (district, _), n in counts.items() if district == scope.code)
        street = street_of(scope.code)
        return counts[district_of(scope.code), None] + sum(
            n for (_, s), n in counts.items() if s is not None and s.startswith(area_prefix(street)))

    return {scope: Ratio(float(held(scope)), 1.0, scale=1.0) for scope in scopes}


def weekly_reports_produced(db_session: Session, scopes: Sequence[Scope], period: Period) -> dict[Scope, Ratio]:
    """社会治安形势周报期数: distinct weeks with a report for the district, produced within the period."""
    weeks = dict(db_session.execute(
        select(WeeklyReport.district_code, func.count(func.distinct(WeeklyReport.week_start)))
        .where(WeeklyReport.generated_at >= period.start, WeeklyReport.generated_at < period.end)
        .group_by(WeeklyReport.district_code)).tuples().all())
    return {scope: Ratio(float(weeks.get(district_of(scope.code), 0)), 1.0, scale=1.0) for scope in scopes}
