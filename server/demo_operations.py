"""A year of synthetic operations for the demo district, so every indicator has data.

Proportions are chosen around the seeds' targets: about 4.3 reports per worker-month (target
≥ 4), ~92 % closed on time (≥ 90 %), ~3 % rejected, ~1.5 % merged duplicates, three in four
closed events reviewed with ~96 % satisfied, 12–30 visits per worker-month around the 20 target.
Every timeline follows the state machine and the time limit rows, and every visit is judged by
the same rule as the API; rows are bulk-inserted because the ORM path costs minutes here.
"""

from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from geoalchemy2 import WKTElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPoint, Point
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from gis.assign import GridIndex
from gis.codes import community_of_grid, serial_of, street_of
from gis.crs import CGCS2000
from server.auth.models import AppSession, User
from server.events.enums import EventState, TimeLimitStep
from server.events.models import Dispute, Event, EventCategory, EventHistory
from server.events.time_limits import calendar, time_limit
from server.events.transitions import TRANSITIONS
from server.geometry import to_shapely
from server.grids.models import Grid, GridAssignment
from server.photos import service as photos
from server.photos.models import PhotoLink
from server.visits.models import Visit
from server.visits.service import judge

CATEGORY_WEIGHTS = {"sanitation": 30, "public_security": 14, "fire_hazard": 12, "dispute": 12, "work_safety": 8,
                    "rental": 10, "special_population": 6, "other": 8}
SATISFACTION = [("very_satisfied", 55), ("satisfied", 33), ("neutral", 8), ("dissatisfied", 3),
                ("very_dissatisfied", 1)]
DEPARTMENTS = ["城管执法队", "环卫站", "派出所", "消防救援站", "安监办", "司法所", "社区居委会", "住建所"]
# Where in the closure window each step happens, as a share of the time to closing.
STEP_SHARE = [("accepted", 0.04), ("dispatched", 0.12), ("handled", 0.8), ("closed", 1.0)]


@dataclass
class Batch:
    """Rows collected in memory and inserted per table in one go."""

    events: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    photo_links: list[dict[str, Any]] = field(default_factory=list)


def point_in(rnd: random.Random, polygon: Any) -> tuple[float, float]:
    """A uniformly random point inside a polygon (rejection sampling in its bounds)."""
    minx, miny, maxx, maxy = polygon.bounds
    while True:
        p = Point(rnd.uniform(minx, maxx), rnd.uniform(miny, maxy))
        if polygon.contains(p):
            return p.x, p.y


class Generator:
    def __init__(self, db_session: Session, *, now: datetime, seed: int) -> None:
        self.s = db_session
        self.now = now
        self.rnd = random.Random(seed)
        self.limits: dict[tuple[str, TimeLimitStep], Any] = {}
        self.next_event_id = (db_session.scalar(select(func.max(Event.id))) or 0) + 1
        leaves = db_session.execute(select(EventCategory.code, EventCategory.parent_code)
                                    .where(EventCategory.parent_code.is_not(None))).all()
        self.leaves = {top: [c for c, p in leaves if p == top] or [top] for top in CATEGORY_WEIGHTS}
        self.batch = Batch()
        self.category_names = dict(db_session.execute(select(EventCategory.code, EventCategory.name)).tuples().all())
        self.photos: list[str] = []

    def due(self, category: str, step: TimeLimitStep, start: datetime) -> datetime | None:
        key = (category, step)
        if key not in self.limits:
            self.limits[key] = time_limit(db_session=self.s, category_code=category, step=step)
        limit = self.limits[key]
        return None if limit is None else limit.due(start, calendar())

    def point_in(self, polygon: Any) -> tuple[float, float]:
        return point_in(self.rnd, polygon)

    def working_moment(self, local_midnight: datetime) -> datetime:
        """A moment between 08:30 and 18:00 local time on that day: when patrols and reports happen."""
        return local_midnight + timedelta(hours=8, minutes=self.rnd.uniform(30, 600))


def _history(g: Generator, event_id: int, kind: str, src: str | None, dst: str, at: datetime, actor: User | None,
             **data: Any) -> None:
    g.batch.history.append({"event_id": event_id, "kind": kind, "from_state": src, "to_state": dst, "at": at,
                            "actor_id": actor.id if actor else None, "actor_role": actor.role if actor else None,
                            "note": data.pop("note", None), "attachments": [], "data": data,
                            "idempotency_key": None, "request_hash": None})


def _timeline(g: Generator, category: str, reported_at: datetime, closure_due: datetime,
              previous: int | None) -> list[tuple[str, datetime, dict[str, Any]]]:
    """The states an event will pass through, with times, before cutting at `now`."""
    r = g.rnd
    fate = r.random()
    if fate < 0.03:
        return [("rejected", reported_at + timedelta(hours=r.uniform(0.5, 4)), {"reason": "不属于网格事件受理范围"})]
    if fate < 0.045 and previous is not None:
        return [("merged", reported_at + timedelta(hours=r.uniform(1, 6)), {"into": previous})]
    late = r.random() < 0.08
    span = (closure_due - reported_at) * (r.uniform(1.05, 2.2) if late else r.uniform(0.15, 0.95))
    steps = [(state, reported_at + span * share, {}) for state, share in STEP_SHARE]
    if r.random() < 0.05:  # returned by the first department and dispatched again
        steps[2:2] = [("returned", reported_at + span * 0.3, {}), ("dispatched", reported_at + span * 0.35, {})]
    if r.random() < 0.75:
        steps.append(("reviewed", steps[-1][1] + timedelta(hours=r.uniform(2, 72)), {}))
    return steps


PHRASES = ["现场核实情况属实，已拍照取证，需相关部门尽快处置", "居民反映问题持续多日，影响周边群众正常生活",
           "巡查中发现，已向当事人做好解释劝导工作", "存在安全隐患，已设置临时警示并持续跟踪"]


def _description(g: Generator, category: str) -> str:
    name = g.category_names.get(category, category)
    return name if g.rnd.random() < 0.08 else f"{name}：{g.rnd.choice(PHRASES)}"


def _address(g: Generator, grid: tuple[int, str, Any]) -> str | None:
    if g.rnd.random() < 0.1:
        return None
    return f"{serial_of(community_of_grid(grid[1])):03d}社区{g.rnd.randint(1, 40)}号楼附近"


def _event(g: Generator, worker: User, grid: tuple[int, str, Any], staff: User, reported_at: datetime,
           previous: int | None) -> int:
    r = g.rnd
    top = r.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    category = r.choice(g.leaves[top])
    lon, lat = g.point_in(grid[2])
    eid, g.next_event_id = g.next_event_id, g.next_event_id + 1
    closure_due = g.due(category, TimeLimitStep.closure, reported_at)
    assert closure_due is not None
    row: dict[str, Any] = {
        "id": eid, "uuid": str(uuid.UUID(int=r.getrandbits(128), version=4)), "request_hash": "demo",
        "category_code": category, "description": _description(g, category), "address": _address(g, grid),
        "geom": WKTElement(f"POINT({lon!r} {lat!r})", srid=CGCS2000), "lon": lon, "lat": lat,
        "source_datum": "gcj02", "gps_accuracy_m": round(r.uniform(3, 25) if r.random() < 0.93 else
                                                         r.uniform(31, 120), 1), "reporter_id": worker.id,
        "grid_id": grid[0], "street_code": street_of(grid[1]), "reported_at": reported_at,
        "created_at": reported_at, "closure_due_at": closure_due, "closed_at": None, "closed_on_time": None,
        "dispatched_to": None, "rejection_reason": None, "satisfaction": None, "possible_duplicate_of_id": None,
        "merged_into_id": None, "photos": [r.choice(g.photos)] if g.photos and r.random() < 0.85 else [],
        "warned_at": None,
    }
    _history(g, eid, "create", None, "reported", reported_at, worker, grid_code=grid[1])
    state, entered = "reported", reported_at
    for dst, at, extra in _timeline(g, category, reported_at, closure_due, previous):
        if at > g.now:
            break
        assert EventState(dst) in TRANSITIONS[EventState(state)], (state, dst)
        _apply_step(g, row, dst, at, extra)
        _history(g, eid, "transition", state, dst, at, worker if dst == "handled" and r.random() < 0.3 else staff,
                 **({"merged_into": extra["into"]} if dst == "merged" else {}))
        state, entered = dst, at
    _finish(g, row, state, entered)
    if top == "dispute":
        _dispute(g, row, state)
    g.batch.events.append(row)
    g.batch.photo_links += [{"sha256": k, "record_type": "event", "record_id": eid, "street_code": row["street_code"],
                             "grid_id": row["grid_id"], "owner_id": worker.id} for k in row["photos"]]
    return eid


def _apply_step(g: Generator, row: dict[str, Any], dst: str, at: datetime, extra: dict[str, Any]) -> None:
    if dst == "dispatched":
        row["dispatched_to"] = g.rnd.choice(DEPARTMENTS)
    elif dst == "rejected":
        row["rejection_reason"] = extra["reason"]
    elif dst == "merged":
        row["merged_into_id"] = extra["into"]
    elif dst == "closed":
        row["closed_at"] = at
        row["closed_on_time"] = at <= row["closure_due_at"]
    elif dst == "reviewed":
        row["satisfaction"] = g.rnd.choices([s for s, _ in SATISFACTION], weights=[w for _, w in SATISFACTION])[0]


STEP_OF = {"reported": TimeLimitStep.accept, "accepted": TimeLimitStep.dispatch, "returned": TimeLimitStep.dispatch,
           "dispatched": TimeLimitStep.handle, "handled": TimeLimitStep.close, "closed": TimeLimitStep.review}


def _finish(g: Generator, row: dict[str, Any], state: str, entered: datetime) -> None:
    """Fields the live system would hold now, including what the time-limit sweep would have marked."""
    step = STEP_OF.get(state)
    row["state"] = state
    row["updated_at"] = entered
    row["due_at"] = g.due(row["category_code"], step, entered) if step else None
    row["step_overdue"] = bool(row["due_at"] and row["due_at"] < g.now)
    end = row["closed_at"] or (g.now if state not in ("rejected", "merged") else entered)
    row["overdue"] = row["closure_due_at"] < end
    if row["overdue"]:
        _history(g, row["id"], "overdue", state, state, row["closure_due_at"], None,
                 closure_due_at=row["closure_due_at"].isoformat())


def _dispute(g: Generator, row: dict[str, Any], state: str) -> None:
    r = g.rnd
    closed = row["closed_at"]
    replied = closed + timedelta(days=r.uniform(0, 3)) if closed else None
    g.batch.disputes.append({
        "event_id": row["id"], **{name: row[name] for name in Dispute.COPIED}, "parties": [{"name": "张某", "role": "申请人"}, {"name": "李某", "role": "被申请人"}],
        "mediation_result": r.choices(["success", "failure", "transferred"], weights=[92, 5, 3])[0] if closed else None,
        "mediated_at": closed, "reply_due_at": row["reported_at"] + timedelta(days=30), "replied_at": replied})


def _visits(g: Generator, worker: User, grid: tuple[int, str, Any], days: list[datetime], per_day: float) -> None:
    r = g.rnd
    index = GridIndex([grid[1]], [grid[2]])
    minx, miny, maxx, maxy = grid[2].bounds
    for day in days:
        for _ in range(np.random.default_rng(r.getrandbits(32)).poisson(per_day)):
            start = g.working_moment(day)
            kind = r.random()
            minutes = r.uniform(3, 9) if kind < 0.04 else r.uniform(15, 75)
            if start + timedelta(minutes=minutes) > g.now:
                continue
            pts = [g.point_in(grid[2]) for _ in range(4)]
            if 0.04 <= kind < 0.07:  # a patrol mostly outside the worker's own grid
                pts = pts[:1] + [(r.uniform(maxx, maxx + (maxx - minx)), r.uniform(miny, maxy)) for _ in range(3)]
            lon, lat = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
            counted, reason, detail, main = judge(index=index, grid_ids=[grid[0]], lon=lon, lat=lat, minutes=minutes)
            g.batch.visits.append({
                "uuid": str(uuid.UUID(int=r.getrandbits(128), version=4)), "request_hash": "demo",
                "worker_id": worker.id, "street_code": worker.street_code, "grid_id": main, "started_at": start,
                "ended_at": start + timedelta(minutes=minutes), "geom": from_shape(MultiPoint(pts), srid=CGCS2000),
                "points": [{"lon": x, "lat": y, "at": None} for x, y in pts], "households": [f"{r.randint(1, 30)}栋"],
                "notes": None, "photos": [], "counted": counted, "not_counted_reason": reason,
                "not_counted_detail": detail, "created_at": start + timedelta(minutes=minutes)})



def _demo_photos(db_session: Session, rnd: random.Random, count: int = 12) -> list[str]:
    """A few real JPEGs through the photo pipeline (checks, storage, thumbnails) to attach to events."""
    uploader = db_session.scalars(select(User).where(User.role == "grid_worker").order_by(User.id)).first()
    if uploader is None:
        return []
    keys = []
    for i in range(count):
        img = Image.new("RGB", (640, 480), tuple(rnd.randrange(40, 220) for _ in range(3)))
        ImageDraw.Draw(img).rectangle((80 + 20 * i, 120, 400 + 10 * i, 360), fill=(rnd.randrange(256), 90, 60))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        photo, _ = photos.store(db_session=db_session, data=buf.getvalue(), uploader=uploader)
        keys.append(photo.sha256)
    return keys


def local_midnights(now: datetime, count: int) -> list[datetime]:
    """UTC instants of the last `count` local (Asia/Shanghai) midnights, oldest first."""
    tz = ZoneInfo("Asia/Shanghai")
    today = now.astimezone(tz).date()
    return [datetime.combine(today - timedelta(days=d), time(0), tz).astimezone(UTC) for d in range(count, -1, -1)]


def _workers(db_session: Session) -> list[tuple[User, tuple[int, str, Any]]]:
    q = (select(User, Grid.id, Grid.code, Grid.geom).join(GridAssignment, GridAssignment.user_id == User.id)
         .join(Grid, Grid.id == GridAssignment.grid_id)
         .where(GridAssignment.valid_to.is_(None), Grid.retired_at.is_(None)).order_by(User.username))
    return [(u, (gid, code, to_shapely(geom))) for u, gid, code, geom in db_session.execute(q)]


def _staff(db_session: Session) -> dict[str, User]:
    """Street admin per street code; the district admin for anything else."""
    users = list(db_session.scalars(select(User).where(User.role.in_(["street_admin", "district_admin"]))))
    staff = {u.street_code: u for u in users if u.role == "street_admin" and u.street_code}
    fallback = next(u for u in users if u.role == "district_admin")
    return {**{"*": fallback}, **staff}


def _insert(db_session: Session, batch: Batch) -> None:
    batch.history.sort(key=lambda h: h["at"])  # history ids follow time: they are the sync cursor
    for table, rows in ((Event.__table__, batch.events), (EventHistory.__table__, batch.history),
                        (Dispute.__table__, batch.disputes), (Visit.__table__, batch.visits),
                        (PhotoLink.__table__, batch.photo_links)):
        for i in range(0, len(rows), 5000):
            db_session.execute(insert(table), rows[i:i + 5000])
    if batch.events and db_session.get_bind().dialect.name == "postgresql":  # ids were given: move the sequence on
        db_session.execute(text("SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))"))


def load_operations(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026,
                    reports_per_month: float = 4.3, visits_per_month: float = 21.0) -> dict[str, int]:
    """Generate and insert a year of events and visits; the caller commits."""
    g = Generator(db_session, now=now, seed=seed)
    g.photos = _demo_photos(db_session, g.rnd)
    rng = np.random.default_rng(seed)
    day_list = local_midnights(now, days)
    staff = _staff(db_session)
    for worker, grid in _workers(db_session):
        diligence = g.rnd.uniform(0.8, 1.2)
        previous: int | None = None
        for day in day_list:
            for _ in range(rng.poisson(reports_per_month * diligence / 30.4)):
                reported = g.working_moment(day)
                if reported < now - timedelta(minutes=10):
                    officer = staff.get(worker.street_code or "", staff["*"])
                    previous = _event(g, worker, grid, officer, reported, previous)
        _visits(g, worker, grid, day_list, visits_per_month * diligence / 30.4)
    _insert(db_session, g.batch)
    return {"events": len(g.batch.events), "event_history": len(g.batch.history),
            "disputes": len(g.batch.disputes), "visits": len(g.batch.visits)}


def load_app_sessions(db_session: Session, *, now: datetime, days: int, seed: int = 2026) -> dict[str, int]:
    """The mobile app's sync days (app_session) of the demo's grid workers: most sync every working
    day; a few leave the app for a month now and then (the app usage rate's drill-down has names)."""
    rnd = random.Random(seed + 13)
    tz = ZoneInfo("Asia/Shanghai")
    workers = sorted({u.id for u, _ in _workers(db_session)})
    lapses = {w: {rnd.randrange(12) for _ in range(rnd.choice((0, 0, 0, 0, 0, 0, 1)))} for w in workers}
    rows = []
    for midnight in local_midnights(now, days):
        local = midnight.astimezone(tz)
        if local.weekday() >= 5:
            continue
        for w in workers:
            if local.month % 12 in lapses[w] or rnd.random() < 0.05:
                continue
            first = midnight + timedelta(hours=8, minutes=rnd.uniform(0, 90))
            last = min(first + timedelta(hours=rnd.uniform(2, 9)), now)
            if first >= now:
                continue
            rows.append({"user_id": w, "day": local.date(), "app_version": "1.0.0", "first_at": first,
                         "last_at": last, "syncs": rnd.randint(3, 30)})
    if rows:
        db_session.execute(insert(AppSession), rows)
    return {"app_sessions": len(rows)}
