"""Every worker's month, set-based: a fixed number of statements for a street or the whole district.

A worker is assessed once a month, whatever the grids: the assignment history (GridAssignment) is
cut into parts, one per grid and stretch of time inside the month. Grid-based items look at each
grid only over the worker's own part of it (an event falling overdue in grid A after the worker
moved to grid B is B's old worker's, not theirs), so each grid weighs by its part of the month.
The share of the month with any assignment is the worker's time on duty: quantity targets shrink
with it (a fortnight's leave halves them) and below the rule's minimum the worker is not ranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gis.codes import street_of
from server.assessment.models import AssessmentAdjustment
from server.assessment.rule import AssessmentRule, Item
from server.auth.models import AppSession, User
from server.database.prefix import prefix_range
from server.events.enums import EventState
from server.events.models import Event, EventHistory
from server.grids.models import Grid, GridAssignment
from server.indicators import service as indicators
from server.indicators.service import TZ, Period
from server.keypersons import service as keypersons
from server.keypersons.models import KeyPerson, KeyPersonUpdate
from server.visits.models import Visit

CENT = Decimal("0.01")
RECORDS_PER_ITEM = 50  # the drill-down shows the first records behind an item; counts are always whole
NOT_DECIDED = (EventState.rejected.value, EventState.merged.value)


def round2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Part:
    """The worker on one grid over [start, end), clipped to the month."""

    grid_id: int
    grid_code: str
    start: datetime
    end: datetime


@dataclass
class ItemScore:
    code: str
    name_zh: str
    kind: str
    max_points: Decimal | None
    score: Decimal
    done: float  # the count, the average score, or the numerator
    due: float | None  # the target after proration, or the denominator
    text: str  # how a person reads it: "3 / 4 件", "均分 24.0 / 30"
    records: list[dict[str, Any]] = field(default_factory=list)
    records_total: int = 0


@dataclass
class WorkerScore:
    worker_id: int
    username: str
    full_name: str
    full_time: bool | None
    street_code: str
    coverage: Decimal  # share of the month on duty, 4 decimals
    parts: list[dict[str, Any]]  # [{grid, from, to, share}]
    items: list[ItemScore]
    total: Decimal
    assessed: bool  # on duty at least the rule's minimum share of the month
    rank: int | None = None
    version: int = 0  # 0: computed from the data now; ≥ 1: the frozen (signed or corrected) version


def _local(t: datetime) -> str:
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def _union_seconds(parts: Iterable[Part]) -> float:
    total, end = 0.0, None
    for p in sorted(parts, key=lambda p: p.start):
        start = p.start if end is None else max(p.start, end)
        if p.end > start:
            total += (p.end - start).total_seconds()
            end = p.end
    return total


def _assignments(db_session: Session, month: Period, street_prefix: str | None,
                 worker_ids: Collection[int] | None) -> dict[int, list[Part]]:
    overlaps = (GridAssignment.valid_from < month.end,
                or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > month.start))
    stmt = (select(GridAssignment.user_id, Grid.id, Grid.code, GridAssignment.valid_from, GridAssignment.valid_to)
            .join(Grid, Grid.id == GridAssignment.grid_id).join(User, User.id == GridAssignment.user_id)
            .where(User.role == "grid_worker", *overlaps))
    if worker_ids is not None:
        stmt = stmt.where(GridAssignment.user_id.in_(list(worker_ids)))
    if street_prefix:  # the workers with any part in the street; all their parts, the street decided below
        in_street = (select(GridAssignment.user_id).join(Grid, Grid.id == GridAssignment.grid_id)
                     .where(prefix_range(Grid.code, street_prefix), *overlaps))
        stmt = stmt.where(GridAssignment.user_id.in_(in_street))
    out: dict[int, list[Part]] = defaultdict(list)
    for uid, gid, code, start, end in db_session.execute(stmt):
        s, e = max(start, month.start), min(end or month.end, month.end)
        if e > s:
            out[uid].append(Part(gid, code, s, e))
    return out


def _main_street(parts: list[Part]) -> str:
    """The street of the longest time in the month (a tie: the later one): where the worker is ranked."""
    seconds: dict[str, float] = defaultdict(float)
    last: dict[str, datetime] = {}
    for p in parts:
        street = street_of(p.grid_code)
        seconds[street] += (p.end - p.start).total_seconds()
        last[street] = max(last.get(street, p.end), p.end)
    return max(seconds, key=lambda s: (seconds[s], last[s]))


@dataclass
class _Data:
    """Everything the items read, loaded once for all the workers."""

    reported: dict[int, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    visits: dict[int, list[tuple[str, bool, str | None]]] = field(default_factory=lambda: defaultdict(list))
    sync_days: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    dispatched: dict[int, list[tuple[str, datetime, bool | None, datetime | None, datetime]]] = field(
        default_factory=lambda: defaultdict(list))  # grid → (serial, dispatched, on time, closed, due)
    due_events: dict[int, list[tuple[str, datetime, bool | None]]] = field(
        default_factory=lambda: defaultdict(list))  # grid → (serial, closure due, closed on time)
    persons: dict[int, list[tuple[int, str, datetime, datetime | None]]] = field(
        default_factory=lambda: defaultdict(list))  # grid → (id, type, registered, removed)
    updates: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    adjustments: dict[int, list[tuple[str, Decimal, str, datetime]]] = field(
        default_factory=lambda: defaultdict(list))


def _serial(serial: str | None, uuid: str) -> str:
    return serial[7:] if serial else uuid  # "440112-2026-000123" is read "2026-000123"


def _in(column: Any, ids: Collection[int] | None) -> Any:
    return column.in_(list(ids)) if ids is not None else True


def app_sync_days(db_session: Session, month: Period, worker_ids: Collection[int] | None) -> dict[int, set[str]]:
    """The local days on which each worker used the app: a sync it reported (app_session, which the
    app usage indicator counts too) or an event or a visit of theirs that reached the server."""
    days: dict[int, set[str]] = defaultdict(set)
    for model, who in ((Event, Event.reporter_id), (Visit, Visit.worker_id)):
        stmt = select(who, model.created_at).where(model.created_at >= month.start, model.created_at < month.end,
                                                   _in(who, worker_ids))
        for uid, at in db_session.execute(stmt):
            days[uid].add(at.astimezone(TZ).strftime("%Y-%m-%d"))
    stmt = select(AppSession.user_id, AppSession.day).where(
        AppSession.first_at >= month.start, AppSession.first_at < month.end, _in(AppSession.user_id, worker_ids))
    for uid, day in db_session.execute(stmt):
        days[uid].add(day.isoformat())
    return days


def _load(db_session: Session, month: Period, worker_ids: Collection[int] | None, grid_ids: Collection[int],
          month_label: str) -> _Data:
    d = _Data()
    quality = indicators.quality_rule()
    score = indicators.quality_score_expression(quality)
    stmt = select(Event.reporter_id, Event.serial, Event.uuid, score).where(
        Event.reported_at >= month.start, Event.reported_at < month.end, _in(Event.reporter_id, worker_ids))
    for uid, serial, uuid, points in db_session.execute(stmt.order_by(Event.reported_at, Event.id)):
        d.reported[uid].append((_serial(serial, uuid), float(points or 0)))
    stmt = select(Visit.worker_id, Visit.uuid, Visit.counted, Visit.not_counted_reason).where(
        Visit.started_at >= month.start, Visit.started_at < month.end, _in(Visit.worker_id, worker_ids))
    for uid, uuid, counted, reason in db_session.execute(stmt.order_by(Visit.started_at, Visit.id)):
        d.visits[uid].append((uuid, bool(counted), reason))
    d.sync_days = app_sync_days(db_session, month, worker_ids)
    grids = list(grid_ids)
    first_dispatch = (select(EventHistory.event_id, func.min(EventHistory.at).label("at"))
                      .where(EventHistory.to_state == EventState.dispatched.value,
                             EventHistory.at >= month.start, EventHistory.at < month.end)
                      .group_by(EventHistory.event_id).subquery())
    stmt = (select(Event.grid_id, Event.serial, Event.uuid, first_dispatch.c.at, Event.closed_on_time, Event.closed_at,
                   Event.closure_due_at)
            .join(first_dispatch, first_dispatch.c.event_id == Event.id).where(Event.grid_id.in_(grids)))
    for gid, serial, uuid, at, on_time, closed, due in db_session.execute(stmt):
        d.dispatched[gid].append((_serial(serial, uuid), at, on_time, closed, due))
    stmt = select(Event.grid_id, Event.serial, Event.uuid, Event.closure_due_at, Event.closed_on_time).where(
        Event.grid_id.in_(grids), Event.closure_due_at >= month.start, Event.closure_due_at < month.end,
        Event.state.not_in(NOT_DECIDED))
    for gid, serial, uuid, due, on_time in db_session.execute(stmt):
        d.due_events[gid].append((_serial(serial, uuid), due, on_time))
    active = (KeyPerson.grid_id.in_(grids), KeyPerson.registered_at < month.end,
              or_(KeyPerson.removed_at.is_(None), KeyPerson.removed_at > month.start))
    for pid, gid, type_code, registered, removed in db_session.execute(
            select(KeyPerson.id, KeyPerson.grid_id, KeyPerson.type_code, KeyPerson.registered_at,
                   KeyPerson.removed_at).where(*active)):
        d.persons[gid].append((pid, type_code, registered, removed))
    stmt = select(KeyPersonUpdate.key_person_id, KeyPersonUpdate.at).where(
        KeyPersonUpdate.at < month.end, KeyPersonUpdate.key_person_id.in_(select(KeyPerson.id).where(*active)))
    for pid, at in db_session.execute(stmt.order_by(KeyPersonUpdate.at)):
        d.updates[pid].append(at)
    stmt = select(AssessmentAdjustment.worker_id, AssessmentAdjustment.item_code, AssessmentAdjustment.points,
                  AssessmentAdjustment.reason, AssessmentAdjustment.at).where(
        AssessmentAdjustment.month == month_label, _in(AssessmentAdjustment.worker_id, worker_ids))
    for uid, code, points, reason, at in db_session.execute(stmt.order_by(AssessmentAdjustment.id)):
        d.adjustments[uid].append((code, Decimal(points), reason, at))
    return d


# ---------------------------------------------------------------- the items

def _records(item: ItemScore, rows: list[dict[str, Any]]) -> ItemScore:
    item.records, item.records_total = rows[:RECORDS_PER_ITEM], len(rows)
    return item


def _target(item: Item, n: int, coverage: Decimal, unit: str, rows: list[dict[str, Any]]) -> ItemScore:
    assert item.target is not None
    need = item.target * coverage
    share = min(Decimal(1), Decimal(n) / need) if need > 0 else Decimal(1)
    return _records(ItemScore(item.code, item.name_zh, item.kind, item.points, round2(item.points * share), n,
                              float(round2(need)), f"{n} / {round2(need).normalize():f} {unit}"), rows)


def _ratio(item: Item, done: int, due: int, rows: list[dict[str, Any]]) -> ItemScore:
    score = round2(item.points) if due == 0 else round2(item.points * Decimal(done) / Decimal(due))
    text = "无应办（满分）" if due == 0 else f"{done} / {due}"
    return _records(ItemScore(item.code, item.name_zh, item.kind, item.points, score, done, due, text), rows)


def _capped(item: Item, raw: Decimal) -> Decimal:
    assert item.cap is not None
    return round2(max(item.cap, raw) if item.cap < 0 else min(item.cap, raw)) + 0  # + 0: no "-0.00"


def _on_time(parts: list[Part], d: _Data, as_of: datetime) -> tuple[int, int, list[dict[str, Any]]]:
    """Events dispatched in the grid during the worker's part: closed on time / decided (closed, or past due)."""
    done = due = 0
    rows = []
    for p in parts:
        for serial, at, on_time, closed, closure_due in d.dispatched.get(p.grid_id, []):
            if not p.start <= at < p.end or (closed is None and closure_due > as_of):
                continue  # another worker's part, or still within its time limit
            due += 1
            done += bool(on_time)
            rows.append({"事件编号": serial, "网格": p.grid_code, "派遣时间": _local(at),
                         "按时办结": "是" if on_time else "否"})
    return done, due, rows


def _key_person_dues(parts: list[Part], d: _Data, as_of: datetime
                     ) -> tuple[int, int, list[dict[str, Any]]]:
    """Follow-ups falling due in the worker's part of each grid, and those made in time.

    A follow-up is due `interval_days` after the latest update (or the registration); one already
    overdue when the part began is due at once. It is made in time by an update before it was due
    (or, when due at once, within the part).
    """
    types = keypersons.key_person_types()
    done = due = 0
    rows = []
    for p in parts:
        end = min(p.end, as_of)
        for pid, type_code, registered, removed in d.persons.get(p.grid_id, []):
            interval = timedelta(days=types[type_code].interval_days) if type_code in types else timedelta(0)
            updates = d.updates.get(pid, [])
            base = max([registered, *(u for u in updates if u < p.start)])
            for _ in range(4):  # intervals are ≥ 1 day; a month holds a few follow-ups at most
                due_at = max(base + interval, p.start)
                if due_at >= end or (removed is not None and removed <= due_at):
                    break
                limit = due_at if base + interval >= p.start else end
                made = next((u for u in updates if base < u <= limit), None)
                due += 1
                done += made is not None
                rows.append({"重点人员ID": pid, "网格": p.grid_code, "应更新时间": _local(base + interval),
                             "更新时间": _local(made) if made else "未更新"})
                if made is None:
                    break
                base = made
    return done, due, rows


def _overdue(parts: list[Part], d: _Data, as_of: datetime) -> list[dict[str, Any]]:
    rows = []
    for p in parts:
        for serial, closure_due, on_time in d.due_events.get(p.grid_id, []):
            if p.start <= closure_due < min(p.end, as_of) and on_time is not True:
                rows.append({"事件编号": serial, "网格": p.grid_code, "办结时限": _local(closure_due)})
    return rows


def _score(rule: AssessmentRule, quality_max: float, uid: int, parts: list[Part], coverage: Decimal, d: _Data,
           as_of: datetime) -> list[ItemScore]:
    items: list[ItemScore] = []
    reported, visits = d.reported.get(uid, []), d.visits.get(uid, [])
    for item in rule.items:
        if item.kind == "target" and item.source == "events_reported":
            items.append(_target(item, len(reported), coverage, "件", [{"事件编号": s} for s, _ in reported]))
        elif item.kind == "target" and item.source == "visits_counted":
            counted = [{"走访UUID": v} for v, ok, _ in visits if ok]
            items.append(_target(item, len(counted), coverage, "次", counted))
        elif item.kind == "target":  # app_days
            days = sorted(d.sync_days.get(uid, set()))
            items.append(_target(item, len(days), coverage, "天", [{"同步日期": x} for x in days]))
        elif item.kind == "quality":
            avg = sum(s for _, s in reported) / len(reported) if reported else 0.0
            score = round2(item.points * Decimal(str(round(avg, 6))) / Decimal(str(quality_max)))
            text = f"均分 {avg:.2f} / {quality_max:g}（{len(reported)} 件）" if reported else "本月无上报（0分）"
            items.append(_records(ItemScore(item.code, item.name_zh, item.kind, item.points, score, avg, quality_max,
                                            text), [{"事件编号": s, "质量评分": q} for s, q in reported]))
        elif item.kind == "ratio":
            fn = _on_time if item.source == "on_time_handling" else _key_person_dues
            done, due, rows = fn(parts, d, as_of)
            items.append(_ratio(item, done, due, rows))
        elif item.kind == "deduction":
            assert item.per is not None
            rows = (_overdue(parts, d, as_of) if item.source == "overdue_events" else
                    [{"走访UUID": v} for v, ok, reason in visits if not ok and reason == "outside_assigned_grids"])
            score = _capped(item, item.per * len(rows))
            items.append(_records(ItemScore(item.code, item.name_zh, item.kind, None, score, len(rows), None,
                                            f"{len(rows)} 项 × {item.per}"), rows))
        else:  # manual
            entries = [(pts, reason, at) for code, pts, reason, at in d.adjustments.get(uid, []) if code == item.code]
            score = _capped(item, sum((pts for pts, _, _ in entries), Decimal(0)))
            items.append(_records(ItemScore(item.code, item.name_zh, item.kind, None, score, len(entries), None,
                                            f"{len(entries)} 项"),
                                  [{"分值": f"{pts:+}", "理由": reason, "录入时间": _local(at)}
                                   for pts, reason, at in entries]))
    return items


def compute(db_session: Session, *, rule: AssessmentRule, month: Period, now: datetime,
            street_prefix: str | None = None, worker_ids: Collection[int] | None = None) -> list[WorkerScore]:
    """The month's scores from the data at `now`: of the workers ranked in a street or district
    (`street_prefix` of 6 or 9 digits), with a part in a community or grid (12 or 15 digits), all
    workers, or those named."""
    assignments = _assignments(db_session, month, street_prefix, worker_ids)
    streets = {uid: _main_street(parts) for uid, parts in assignments.items()}
    if street_prefix and len(street_prefix) <= 9:  # a street or the district: those ranked there
        assignments = {uid: ps for uid, ps in assignments.items() if streets[uid].startswith(street_prefix)}
    if not assignments:
        return []
    ids = set(assignments) if worker_ids is not None or street_prefix else None
    d = _load(db_session, month, ids, {p.grid_id for ps in assignments.values() for p in ps}, month.label)
    users = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_(list(assignments))))}
    month_seconds = (month.end - month.start).total_seconds()
    as_of = min(now, month.end)
    quality_max = indicators.quality_rule().max_points
    out = []
    for uid, parts in assignments.items():
        coverage = Decimal(_union_seconds(parts) / month_seconds).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        items = _score(rule, quality_max, uid, parts, coverage, d, as_of)
        total = max(Decimal(0), sum((i.score for i in items), Decimal(0)))
        u = users[uid]
        out.append(WorkerScore(
            worker_id=uid, username=u.username, full_name=u.full_name, full_time=u.full_time,
            street_code=streets[uid], coverage=coverage,
            parts=[{"网格": p.grid_code, "起": _local(p.start), "止": _local(p.end),
                    "占比": round((p.end - p.start).total_seconds() / month_seconds, 4)}
                   for p in sorted(parts, key=lambda p: (p.start, p.grid_code))],
            items=items, total=total, assessed=coverage >= rule.min_coverage))
    return rank(out)


def rank(scores: list[WorkerScore]) -> list[WorkerScore]:
    """Ranks within each street (equal totals share a rank: 1, 2, 2, 4); those not assessed have none.
    Sorted by street, rank, then username."""
    by_street: dict[str, list[WorkerScore]] = defaultdict(list)
    for s in scores:
        s.rank = None
        by_street[s.street_code].append(s)
    for rows in by_street.values():
        ranked = sorted((s for s in rows if s.assessed), key=lambda s: -s.total)
        for i, s in enumerate(ranked):
            s.rank = ranked[i - 1].rank if i and ranked[i - 1].total == s.total else i + 1
    return sorted(scores, key=lambda s: (s.street_code, s.rank is None, s.rank or 0, s.username))
