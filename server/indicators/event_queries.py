"""Event, visit and dispute indicators for many scopes at once: grouped SQL aggregates, rolled up.

Why grouped: an indicator board, a self-evaluation or a quarterly table wants every indicator for a
district, each of its streets and each community. Here the database reads each table once per
request and sums the period's rows per (street, grid, month) cell; every scope's numerator and
denominator is then a sum of a few hundred cells. One scope costs one statement per table, and so
does the whole district with all its streets and communities (the per-scope, per-indicator queries
this replaced read the events 30 times per scope: bench/bench_indicators.py measures both).

Attribution rules (the catalogue formulas say the same in Chinese):
- an event belongs to the period in which it was reported (reported_at), and to the scope of the
  grid it fell in; rejected (不予立案) and merged duplicates are not cases;
- it counts as closed if closed before the period ended, so a year's figures do not change when
  late closures come in afterwards;
- district and street scopes select by the stored street code, community and grid scopes by the
  code of the grid (visits: the worker's street, the grid where most points fell);
- worker-months: each month of the period counts a worker assigned in scope during it, weighted by
  the share of the month inside the period and already elapsed;
- quality score: the average over months (with events) of the month's average event score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.database.prefix import prefix_range
from server.events.enums import SATISFIED, EventState
from server.events.models import Dispute, Event
from server.grids.models import Grid, GridAssignment
from server.indicators.models import EventRollup, RollupState
from server.indicators.periods import Period, Scope, parse_period
from server.indicators.quality import (
    RULE_60,
    Rule,
    load_rule,
    rules_hash,
    score_expression,
)
from server.indicators.results import Ratio, under_each
from server.visits.models import Visit

NOT_CASES = (EventState.rejected.value, EventState.merged.value)
STREET_LEVELS = ("district", "street")  # selected by the stored street code; below them by grid code


def _under(prefix: str, street_col, grid_id_col, *,  # type: ignore[no-untyped-def]
           by_street: bool) -> ColumnElement[bool]:
    """Rows whose stored street code, or whose grid's code, starts with a code prefix."""
    if by_street:
        return prefix_range(street_col, prefix)
    return grid_id_col.in_(select(Grid.id).where(prefix_range(Grid.code, prefix)))


def in_scope(scope: Scope, street_col, grid_id_col) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """Rows of one scope: district/street by the stored street code, community/grid through the grid."""
    return _under(scope.prefix, street_col, grid_id_col, by_street=scope.level in STREET_LEVELS)


def common_prefix(scopes: Sequence[Scope]) -> str:
    """The longest code prefix shared by all the scopes (the district's code for a board)."""
    common = scopes[0].prefix
    for sc in scopes[1:]:
        while not sc.prefix.startswith(common):
            common = common[:-1]
    return common


def cases(scope: Scope, period: Period) -> Select:  # type: ignore[type-arg]
    """Events that are cases of the period in one scope: what the closure drill-downs list."""
    return select(Event).where(
        in_scope(scope, Event.street_code, Event.grid_id), Event.reported_at >= period.start,
        Event.reported_at < period.end, Event.state.not_in(NOT_CASES))


def _covering(scopes: Sequence[Scope], street_col, grid_id_col,  # type: ignore[no-untyped-def]
              street_of_grid: bool) -> ColumnElement[bool]:
    """One filter for the rows of all the scopes, by their common code prefix. An event's street
    code is its grid's (set from the grid, whose code never changes), so when any scope is a street
    or wider the street code alone selects every scope's events; a visit's street is its worker's,
    which may differ from the grid's, so mixed levels take both filters, OR-ed."""
    common = common_prefix(scopes)
    by_street = any(sc.level in STREET_LEVELS for sc in scopes)
    by_grid = not all(sc.level in STREET_LEVELS for sc in scopes)
    street = _under(common, street_col, grid_id_col, by_street=True)
    grid = _under(common, street_col, grid_id_col, by_street=False)
    if by_street and (street_of_grid or not by_grid):
        return street
    return grid if not by_street else or_(street, grid)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def month_bucket(column, months: Sequence[Period]) -> ColumnElement[int]:  # type: ignore[no-untyped-def]
    """Index of the period's month a timestamp falls in (rows are already inside the period)."""
    if len(months) == 1:
        return literal_column("0")
    return case(*((column < m.end, i) for i, m in enumerate(months[:-1])), else_=len(months) - 1)


QUALITY_RULES: dict[str, Callable[[], Rule]] = {  # score column → its rule (loaded when used)
    "score": lambda: load_rule(get_settings().quality_rule),
    "score_60": lambda: load_rule(str(RULE_60)),
}


def event_sums(closed_by: ColumnElement[bool]) -> dict[str, Callable[[], ColumnElement]]:  # type: ignore[type-arg]
    """The sums an event cell can carry, built only when an indicator asks for them: a statement
    sums only what its indicators read (the quality scores cost the most per row). `closed_by`
    says which closures count: before the period ended here, any in the rollup (which keeps the
    month of closure instead)."""
    case_ = Event.state.not_in(NOT_CASES)
    before_end = and_(Event.closed_at.is_not(None), closed_by)
    return {
        "events": func.count,
        "cases": lambda: _count(case_),
        "closed": lambda: _count(and_(case_, before_end)),
        "closed_on_time": lambda: _count(and_(case_, before_end, Event.closed_on_time.is_(True))),
        "rated": lambda: _count(and_(case_, Event.satisfaction.is_not(None))),
        "satisfied": lambda: _count(and_(case_, Event.satisfaction.in_([s.value for s in SATISFIED]))),
        "worker_reports": lambda: _count(Event.reporter_id.in_(
            select(User.id).where(User.role == Role.grid_worker.value))),
        **{name: (lambda rule=rule: func.sum(score_expression(rule())))  # type: ignore[misc]
           for name, rule in QUALITY_RULES.items()},
    }


def _event_columns(period: Period) -> dict[str, Callable[[], ColumnElement]]:  # type: ignore[type-arg]
    return event_sums(Event.closed_at < period.end)


def rules_in_force() -> str:
    """The hash of the quality rules the scores are computed with now (the rollup's must match)."""
    return rules_hash([rule() for rule in QUALITY_RULES.values()])


def whole_months(period: Period) -> bool:
    """A year, quarter, month or date range of whole months: what the rollup's cells can sum."""
    return all((m.start, m.end) == (w.start, w.end) for m in period.months() for w in [parse_period(m.label)])


def _rolled_columns(last_month: str) -> dict[str, ColumnElement]:  # type: ignore[type-arg]
    """The rollup's sums for a period ending with `last_month`: closures of the months up to it."""
    r = EventRollup
    return {
        **{name: func.sum(getattr(r, name)) for name in ("events", "cases", "rated", "satisfied",
                                                          "worker_reports", *QUALITY_RULES)},
        **{name: func.sum(case((r.closed_month <= last_month, getattr(r, name)), else_=0))
           for name in ("closed", "closed_on_time")},  # '' (not closed) sorts first but holds 0
    }


def _rollup_cells(db_session: Session, scopes: Sequence[Scope], months: Sequence[Period], monthly: bool,
                  names: Iterable[str], by_area: bool) -> list[Cell] | None:
    """The rolled-up events' cells of a whole-month period, or None when the rollup was made with
    other quality rules than those in force (then every event is read one by one)."""
    if db_session.scalar(select(RollupState.rule_hash)) not in (None, rules_in_force()):
        return None
    r = EventRollup
    first, last = months[0].label, months[-1].label
    columns = _rolled_columns(last)
    bucket = case(*((r.reported_month == m.label, i) for i, m in enumerate(months)), else_=0) \
        if monthly and len(months) > 1 else literal_column("0")
    base = select(r).where(_covering(scopes, r.street_code, r.grid_id, street_of_grid=True),
                           r.reported_month >= first, r.reported_month <= last)
    return _cells(db_session, base, r.street_code, r.grid_id, bucket, {n: columns[n] for n in names}, by_area)


def _dispute_columns(now: datetime) -> dict[str, Callable[[], ColumnElement]]:  # type: ignore[type-arg]
    replied = and_(Dispute.replied_at.is_not(None), Dispute.replied_at <= now)
    return {
        "mediated": lambda: _count(Dispute.mediation_result.is_not(None)),
        "mediation_success": lambda: _count(Dispute.mediation_result == "success"),
        # disputes still within their 30 days at `now` and not yet answered are not held against anyone
        "reply_due": lambda: _count(or_(Dispute.reply_due_at < now, replied)),
        "replied_in_time": lambda: _count(and_(replied, Dispute.replied_at <= Dispute.reply_due_at)),
    }


VISIT_COLUMNS: dict[str, Callable[[], ColumnElement]] = {"visits": func.count}  # type: ignore[type-arg]


@dataclass
class Totals:
    """Sums over cells; `monthly` keeps the per-month event counts and scores the quality score needs."""

    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    monthly: dict[tuple[int, str], float] = field(default_factory=lambda: defaultdict(float))
    worker_months: float = 0.0

    def add(self, sums: dict[str, float], monthly: dict[tuple[int, str], float]) -> None:
        for name, value in sums.items():
            self.sums[name] += value
        for key, value in monthly.items():
            self.monthly[key] += value

    def quality(self, score: str) -> Ratio:
        months = {m for m, name in self.monthly if name == "events" and self.monthly[m, name]}
        averages = [self.monthly[m, score] / self.monthly[m, "events"] for m in sorted(months)]
        return Ratio(sum(averages), len(averages), scale=1.0)


@dataclass(frozen=True)
class Indicator:
    """The sums a code reads, how they make its ratio, and whether it needs worker-months or months."""

    columns: tuple[str, ...]
    ratio: Callable[[Totals], Ratio]
    worker_months: bool = False
    monthly: bool = False


def _sum_ratio(num: str, den: str) -> Indicator:
    return Indicator((num, den), lambda t: Ratio(t.sums[num], t.sums[den]))


def _per_worker_month(num: str) -> Indicator:
    return Indicator((num,), lambda t: Ratio(t.sums[num], t.worker_months, scale=1.0), worker_months=True)


def _quality(score: str) -> Indicator:
    return Indicator(("events", score), lambda t: t.quality(score), monthly=True)


INDICATORS: dict[str, Indicator] = {
    "closure_rate": _sum_ratio("closed", "cases"),
    "on_time_closure_rate": _sum_ratio("closed_on_time", "cases"),
    "satisfaction": _sum_ratio("satisfied", "rated"),
    "reports_per_worker_month": _per_worker_month("worker_reports"),
    "visits_per_worker_month": _per_worker_month("visits"),
    "mediation_success_rate": _sum_ratio("mediation_success", "mediated"),
    "dispute_reply_within_30_days_rate": _sum_ratio("replied_in_time", "reply_due"),
    "quality_score": _quality("score"),
    "quality_score_60": _quality("score_60"),
}


@dataclass(frozen=True)
class Cell:
    street_code: str | None
    grid_id: int | None
    month: int
    sums: dict[str, float]

    def per_month(self, names: Sequence[str]) -> dict[tuple[int, str], float]:
        return {(self.month, n): v for n, v in self.sums.items() if n in names}


def _cells(db_session: Session, base: Select, street_col, grid_id_col, month,  # type: ignore[no-untyped-def, type-arg]
           sums: dict[str, ColumnElement], by_area: bool) -> list[Cell]:  # type: ignore[type-arg]
    """The sums per (street, grid, month); without by_area (one scope, whose rows the base selects)
    per month only, which spares the database a sort of every row by area."""
    keys = (street_col, grid_id_col) if by_area else (literal_column("NULL"), literal_column("NULL"))
    stmt = base.with_only_columns(*keys, month.label("month"), *(c.label(n) for n, c in sums.items()))
    stmt = stmt.group_by(*keys[:2 if by_area else 0], "month")
    return [Cell(r[0], r[1], int(r[2]), {n: float(v or 0) for n, v in zip(sums, r[3:], strict=True)})
            for r in db_session.execute(stmt)]


@lru_cache(maxsize=64)
def month_seconds(month: Period) -> float:
    """Length of the whole calendar month a (possibly clipped) month period belongs to."""
    whole = parse_period(month.label)
    return (whole.end - whole.start).total_seconds()


def _worker_months(mine: Sequence[tuple[str, int, datetime, datetime | None]], months: Sequence[Period],
                   now: datetime) -> float:
    """Σ over months of (distinct workers assigned in scope during the month) × (share of it counted)."""
    total = 0.0
    for month in months:
        end = min(month.end, now)
        if end <= month.start:
            continue
        workers = {user for _, user, since, until in mine if since < end and (until is None or until > month.start)}
        total += len(workers) * (end - month.start).total_seconds() / month_seconds(month)
    return total


def ratios(db_session: Session, scopes: Sequence[Scope], codes: Iterable[str], period: Period,
           now: datetime, *, rollup: bool = True) -> dict[tuple[Scope, str], Ratio]:
    """Every (scope, code) for the codes of INDICATORS, from one grouped statement per table needed.
    With `rollup` a period of whole months sums the rolled-up events' cells (event_rollup) and
    reads only the other events row by row; without it every event is read (what the rollup is
    checked against)."""
    codes = list(dict.fromkeys(codes))
    if not scopes or not codes:
        return {}
    wanted = {col for c in codes for col in INDICATORS[c].columns}
    months = period.months()
    monthly = any(INDICATORS[c].monthly for c in codes)
    by_area = len(scopes) > 1

    def pick(columns: dict[str, Callable[[], ColumnElement]]) -> dict[str, ColumnElement]:  # type: ignore[type-arg]
        return {name: build() for name, build in columns.items() if name in wanted}

    cells: list[Cell] = []
    if sums := pick(_event_columns(period)):
        rolled = _rollup_cells(db_session, scopes, months, monthly, sums, by_area) \
            if rollup and whole_months(period) else None
        base = select(Event).where(_covering(scopes, Event.street_code, Event.grid_id, street_of_grid=True),
                                   Event.reported_at >= period.start, Event.reported_at < period.end,
                                   *(() if rolled is None else (Event.rolled_up == false(),)))
        cells += rolled or []
        bucket = month_bucket(Event.reported_at, months if monthly else months[:1])
        cells += _cells(db_session, base, Event.street_code, Event.grid_id, bucket, sums, by_area)
    if sums := pick(_dispute_columns(now)):
        # the event's scope and time, copied onto the dispute: no join to every event of the period
        base = select(Dispute).where(
            _covering(scopes, Dispute.street_code, Dispute.grid_id, street_of_grid=True),
            Dispute.reported_at >= period.start, Dispute.reported_at < period.end)
        cells += _cells(db_session, base, Dispute.street_code, Dispute.grid_id, literal_column("0"), sums, by_area)
    if sums := pick(VISIT_COLUMNS):
        base = select(Visit).where(_covering(scopes, Visit.street_code, Visit.grid_id, street_of_grid=False),
                                   Visit.counted.is_(True), Visit.started_at >= period.start,
                                   Visit.started_at < period.end)
        cells += _cells(db_session, base, Visit.street_code, Visit.grid_id, literal_column("0"), sums, by_area)
    assignments: list[tuple[str, int, datetime, datetime | None]] = []
    if any(INDICATORS[c].worker_months for c in codes):
        assignments = [tuple(r) for r in db_session.execute(  # type: ignore[misc]
            select(Grid.code, GridAssignment.user_id, GridAssignment.valid_from, GridAssignment.valid_to)
            .join(Grid, Grid.id == GridAssignment.grid_id).join(User, User.id == GridAssignment.user_id)
            .where(User.role == Role.grid_worker.value, prefix_range(Grid.code, common_prefix(scopes)),
                   GridAssignment.valid_from < min(period.end, now),
                   or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > period.start)))]
    by_key = _fold(db_session, cells, scopes, ("events", *QUALITY_RULES) if monthly else ())
    parts = {level: under_each([sc for sc in scopes if (sc.level in STREET_LEVELS) is level], keyed.items())
             for level, keyed in by_key.items()}
    assigned = under_each(scopes, ((a[0], a) for a in assignments))
    out: dict[tuple[Scope, str], Ratio] = {}
    for sc in scopes:
        totals = Totals()
        for part in parts[sc.level in STREET_LEVELS].get(sc, ()):
            totals.add(part.sums, part.monthly)
        if assignments:
            totals.worker_months = _worker_months(assigned[sc], months, now)
        for code in codes:
            out[(sc, code)] = INDICATORS[code].ratio(totals)
    return out


def _fold(db_session: Session, cells: Sequence[Cell], scopes: Sequence[Scope],
          monthly: Sequence[str]) -> dict[bool, dict[str, Totals]]:
    """Cells summed per street code (True) and per grid code (False), for the levels the scopes
    have: a scope then adds up the few keys under its prefix instead of every cell."""
    if len(scopes) == 1:  # the statements selected that scope's rows, not grouped by area
        whole = Totals()
        for c in cells:
            whole.add(c.sums, c.per_month(monthly))
        return {scopes[0].level in STREET_LEVELS: {scopes[0].prefix: whole}}
    street_level = {sc.level in STREET_LEVELS for sc in scopes}
    grid_code: dict[int, str] = {}
    if False in street_level:
        grid_code = {gid: code for gid, code in db_session.execute(
            select(Grid.id, Grid.code).where(prefix_range(Grid.code, common_prefix(scopes))))}
    out: dict[bool, dict[str, Totals]] = {True: defaultdict(Totals), False: defaultdict(Totals)}
    for c in cells:
        per_month = c.per_month(monthly)
        for by_street in street_level:
            key = c.street_code if by_street else grid_code.get(c.grid_id)  # type: ignore[arg-type]
            if key is not None:
                out[by_street][key].add(c.sums, per_month)
    return out
