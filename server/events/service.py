"""Events: exactly-once creation from phones, scoped reads, lists and the change feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2 import WKTElement
from sqlalchemy import and_, bindparam, case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.crs import CGCS2000
from gis.codes import street_of
from gis.datum import to_cgcs2000
from server.auth.models import User
from server.config import get_settings
from server.database.core import ReadsFirst
from server.errors import InvalidInput, NotFound
from server.events import duplicates, serials, time_limits
from server.events.enums import CLOSED_STATES, TERMINAL, EventState, TimeLimitStep
from server.events.models import Dispute, Event, EventCategory, EventHistory, TimeLimitPolicy
from server.events.schemas import EventCreate
from server.events.scope import visible_events
from server.events.workcal import TimeLimit
from server.grids import service as grids
from server.idempotency import check_replay, fingerprint
from server.photos import service as photos

# The event number as people say it ("2026-000123"), and numbering bulk-loaded rows: the public
# surface other domains and the CLI use (server.events.serials holds how numbers are given).
shown_serial = serials.shown
backfill_serials = serials.backfill

MAX_CLOCK_SKEW = timedelta(minutes=10)  # offline phones sync late (GRIDOPS_LATE_SYNC_DAYS), never early


def _check_time(reported_at: datetime, now: datetime) -> None:
    if reported_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput(f"reported_at {reported_at.isoformat()} is in the future: check the phone's clock",
                           "上报时间晚于服务器时间，请校准手机时间", code="clock_skew")
    settings = get_settings()
    if reported_at < now - settings.late_sync_window:
        raise InvalidInput(f"reported_at is more than {settings.late_sync_days} days old",
                           f"上报时间早于{settings.late_sync_days}天前", code="report_too_old")


LIMITED_STEPS = (TimeLimitStep.accept, TimeLimitStep.closure)  # the due times a new event gets
# A report's first read: is its uuid taken (a retry), its category, and that category's time limits,
# in one statement: the category and its policies are outer-joined to a one-row select, so an unknown
# code still answers whether the uuid is taken (one row per policy found, at least one row). It once
# took three statements; the event itself is read only for a retry.
_FIRST_READ = (
    select(select(Event.id).where(Event.uuid == bindparam("uuid")).scalar_subquery().label("taken_by"),
           EventCategory, *time_limits.POLICY_COLUMNS)
    .select_from(select(literal(1).label("one")).subquery("one_row"))
    .outerjoin(EventCategory, EventCategory.code == bindparam("code"))
    .outerjoin(TimeLimitPolicy, time_limits.policies_of_category(LIMITED_STEPS)))


@dataclass(frozen=True)
class _FirstRead:
    taken_by: int | None  # the id of the event that has the uuid already
    category: EventCategory | None  # None: no such category
    limits: dict[TimeLimitStep, TimeLimit | None]


def _first_read(db_session: Session, uuid: str, category_code: str) -> _FirstRead:
    rows = db_session.execute(_FIRST_READ, {"uuid": uuid, "code": category_code}).all()
    taken_by, category = rows[0][0], rows[0][1]
    limits = time_limits.of_category(category, (r[2:] for r in rows), LIMITED_STEPS) if category else {}
    return _FirstRead(taken_by, category, limits)


def _active(category: EventCategory | None, code: str) -> EventCategory:
    if category is None or not category.active:
        raise InvalidInput(f"unknown event category {code}", f"事件类别 {code} 不存在", code="unknown_category")
    return category


def is_dispute(category: EventCategory) -> bool:
    return category.code == "dispute" or category.parent_code == "dispute"


_BY_UUID = select(Event).where(Event.uuid == bindparam("uuid"))


def _existing(db_session: Session, uuid: str, request_hash: str, reporter: User) -> Event | None:
    event = db_session.scalar(_BY_UUID, {"uuid": uuid})
    if event is not None:
        check_replay(key=uuid, stored_hash=event.request_hash, request_hash=request_hash, owner_id=event.reporter_id,
                     user_id=reporter.id)
    return event


@dataclass(frozen=True)
class Submitted:
    """A report's outcome with the rows its creation already read, so the answer needs no query."""

    event: Event
    created: bool
    category: EventCategory | None = None  # None on a replay: only the created path holds them
    grid_code: str | None = None
    dispute: Dispute | None = None


def create(*, db_session: Session, reporter: User, data: EventCreate, now: datetime) -> tuple[Event, bool]:
    """(event, created). A retry with the same uuid and body returns the first event."""
    result = submit(db_session=db_session, reporter=reporter, data=data, now=now)
    return result.event, result.created


def submit(*, db_session: Session, reporter: User, data: EventCreate, now: datetime) -> Submitted:
    """Create an event exactly once: a retry with the same uuid and body returns the first event.

    Everything that only reads comes first (ReadsFirst: in autocommit, so SQLite's write lock is not
    held for it); the locks that serialise creations, SQLite's write lock, the serial counter's row
    lock and PostgreSQL's feed-order lock, are taken by the writes at the end: on PostgreSQL one
    statement (the feed's lock, the counter bump, the event and its history row), on SQLite the bump
    and the two rows' INSERTs (serials.insert_numbered); then the caller's commit. On PostgreSQL a
    report without photos or a dispute row is that one statement, still in autocommit: it commits
    itself and its locks are never held across a return to Python; with photos or a dispute, the
    statement and their rows are one transaction. A retry that loses the race to its own first copy
    meets the uuid's unique index there, and the write is undone (ReadsFirst.attempt).
    """
    request_hash = fingerprint(data.model_dump(mode="json", exclude={"location_mock"} if data.location_mock is None
                                               else set()))  # the hashes of reports from before the flag hold
    uuid = str(data.uuid)
    phase = ReadsFirst(db_session)
    first = _first_read(db_session, uuid, data.category_code)
    if first.taken_by is not None and (found := _existing(db_session, uuid, request_hash, reporter)) is not None:
        return Submitted(found, False)
    category, limits = _active(first.category, data.category_code), first.limits
    _check_time(data.reported_at, now)
    lon, lat = to_cgcs2000(data.lon, data.lat, data.datum.value)
    grid = grids.grid_at(db_session=db_session, lon=lon, lat=lat)
    if grid is None:
        raise InvalidInput(f"location ({lon:.6f}, {lat:.6f}) is outside every grid; if the phone sent GCJ-02 "
                           "or BD-09, say so in `datum`", "上报位置不在任何网格内；如坐标为GCJ-02或BD-09请在datum中注明",
                           code="location_outside_grids")
    photos.ensure_exist(db_session=db_session, keys=data.photos, user=reporter, now=now)
    if data.dispute is not None and not is_dispute(category):
        raise InvalidInput("dispute fields are only for dispute categories", "仅矛盾纠纷类事件可填写纠纷信息",
                           code="not_a_dispute")
    event = Event(
        uuid=uuid, request_hash=request_hash, category_code=category.code, description=data.description,
        address=data.address, geom=WKTElement(f"POINT({lon!r} {lat!r})", srid=CGCS2000), lon=lon, lat=lat,
        source_datum=data.datum.value, gps_accuracy_m=data.gps_accuracy_m,
        location_mock=data.location_mock, reporter_id=reporter.id,
        grid_id=grid.id, street_code=street_of(grid.code), state=EventState.reported.value,
        reported_at=data.reported_at, created_at=now, updated_at=now, photos=list(data.photos),
        due_at=time_limits.due_under(limits[TimeLimitStep.accept], data.reported_at),
        closure_due_at=time_limits.due_under(limits[TimeLimitStep.closure], data.reported_at),
    )
    event.possible_duplicate_of_id = duplicates.find_candidate(db_session=db_session, event=event)
    history = EventHistory(kind="create", from_state=None, to_state=event.state, actor_id=reporter.id,
                           actor_role=reporter.role, at=now, attachments=list(data.photos),
                           data={"grid_code": grid.code})
    dispute_row = data.dispute is not None or is_dispute(category)
    phase.writes(one_statement=phase.postgres and not data.photos and not dispute_row)  # SQLite's write lock from here
    try:  # undone alone if a retry won the race: on SQLite the number taken goes back with the event
        with phase.attempt():
            serials.insert_numbered(db_session, event, history)
    except IntegrityError:  # a concurrent retry inserted the same uuid first
        found = _existing(db_session, uuid, request_hash, reporter)
        if found is None:
            raise
        return Submitted(found, False)
    photos.link(db_session=db_session, keys=data.photos, record_type="event", record_id=event.id,
                street_code=event.street_code, grid_id=event.grid_id, owner_id=reporter.id)
    dispute = None
    if dispute_row:
        parties = [p.model_dump() for p in data.dispute.parties] if data.dispute else []
        dispute = Dispute.for_event(event, parties=parties, reply_due_at=data.reported_at + timedelta(days=30))
        db_session.add(dispute)
    db_session.flush()  # nothing to write (no SQL) unless photos or a dispute came with the report
    return Submitted(event, True, category, grid.code, dispute)


def get_visible(*, db_session: Session, user: User, uuid: str, now: datetime) -> Event:
    event = db_session.scalar(select(Event).where(Event.uuid == uuid, visible_events(user, now)))
    if event is None:
        raise NotFound(f"event {uuid} not found", f"事件 {uuid} 不存在", code="event_not_found")
    return event


@dataclass(frozen=True)
class EventFilter:
    state: list[str] | None = None
    category: str | None = None  # a code; sub-categories included
    grid_code: str | None = None
    street_code: str | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    overdue: bool | None = None


SORTS = {"reported_at": Event.reported_at, "due_at": Event.due_at, "closure_due_at": Event.closure_due_at,
         "updated_at": Event.updated_at}


def query(*, user: User, flt: EventFilter, now: datetime):  # type: ignore[no-untyped-def]
    q = select(Event).where(visible_events(user, now))
    if flt.state:
        q = q.where(Event.state.in_(flt.state))
    if flt.category:
        q = q.where((Event.category_code == flt.category) | Event.category_code.startswith(flt.category + "."))
    if flt.grid_code:
        q = q.where(Event.grid_id.in_(select(grids.Grid.id).where(grids.Grid.code == flt.grid_code)))
    if flt.street_code:
        q = q.where(Event.street_code == flt.street_code)
    if flt.reported_from:
        q = q.where(Event.reported_at >= flt.reported_from)
    if flt.reported_to:
        q = q.where(Event.reported_at < flt.reported_to)
    if flt.overdue is not None:
        q = q.where(Event.overdue.is_(flt.overdue))
    return q


def list_events(*, db_session: Session, user: User, flt: EventFilter, now: datetime, page: int, page_size: int,
                sort: str = "-reported_at") -> tuple[list[Event], int]:
    q = query(user=user, flt=flt, now=now)
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    col = SORTS[sort.lstrip("-")]
    order = col.desc() if sort.startswith("-") else col.asc()
    rows = db_session.scalars(q.order_by(order, Event.id).offset((page - 1) * page_size).limit(page_size))
    return list(rows), total


def changes_since(*, db_session: Session, user: User, cursor: int, limit: int,
                  now: datetime) -> list[tuple[EventHistory, str]]:
    """History rows after `cursor` on events the user may see, oldest first: sync and live feed."""
    q = (select(EventHistory, Event.uuid).join(Event, Event.id == EventHistory.event_id)
         .where(EventHistory.id > cursor, visible_events(user, now))
         .order_by(EventHistory.id).limit(limit))
    return [(h, u) for h, u in db_session.execute(q)]


def last_change_cursor(db_session: Session) -> int:
    """The largest cursor of the changes (0: none yet), whoever may see it: the live feed's wake-up check."""
    return db_session.scalar(select(func.coalesce(func.max(EventHistory.id), 0))) or 0


def open_counts(*, db_session: Session, grid_id: int) -> dict[str, int]:
    """Events of a grid still being worked on (neither closed nor ended): how many, how many the
    sweep warned of (预警, not yet overdue) and how many are overdue (超期), as the queue shows them."""
    still_open = [s.value for s in EventState if s not in TERMINAL and s not in CLOSED_STATES]
    warned = and_(Event.warned_at.is_not(None), Event.overdue.is_(False))
    row = db_session.execute(select(
        func.count(Event.id), func.count(case((warned, Event.id))), func.count(case((Event.overdue.is_(True), Event.id))),
    ).where(Event.grid_id == grid_id, Event.state.in_(still_open))).one()
    return {"open": row[0], "warning": row[1], "overdue": row[2]}
