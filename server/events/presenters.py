"""ORM rows → API shapes, in one place so list, detail, export and feed agree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from server.auth.models import User
from server.events import serials
from server.events.enums import STATE_LABELS_ZH, EventState
from server.events.models import Dispute, Event, EventCategory, EventHistory
from server.events.schemas import Change, DisputeRead, EventRead, HistoryRead
from server.events.transitions import allowed_next
from server.grids.models import Grid


def dispute_read(d: Dispute) -> DisputeRead:
    within = None if d.replied_at is None else d.replied_at <= d.reply_due_at
    return DisputeRead(parties=d.parties, mediation_result=d.mediation_result, mediated_at=d.mediated_at,
                       reply_due_at=d.reply_due_at, replied_at=d.replied_at, replied_within_30_days=within)


def _history(db_session: Session, event_id: int) -> list[HistoryRead]:
    """Queried, not taken from the relationship, which may have been loaded before a change."""
    rows = list(db_session.scalars(select(EventHistory).where(EventHistory.event_id == event_id)
                                   .order_by(EventHistory.id)))
    ids = {r.actor_id for r in rows if r.actor_id}
    names = dict(db_session.execute(select(User.id, User.username).where(User.id.in_(ids))).tuples().all()) \
        if ids else {}
    return [HistoryRead(id=r.id, kind=r.kind, from_state=r.from_state, to_state=r.to_state,
                        actor=names.get(r.actor_id), actor_role=r.actor_role, at=r.at, note=r.note,
                        attachments=r.attachments or [], data=r.data or {}) for r in rows]


CHUNK = 500  # ids per IN list: well inside SQLite's parameter limit, a constant number of statements per page


def event_reads(db_session: Session, events: Sequence[Event]) -> list[EventRead]:
    """Many events in five statements per CHUNK events (categories, grids, reporters, disputes, the
    events they point to), not five per event: lists and exports of thousands of rows."""
    out: list[EventRead] = []
    for i in range(0, len(events), CHUNK):
        out.extend(_chunk(db_session, events[i:i + CHUNK]))
    return out


@dataclass(frozen=True)
class Names:
    """What rows of the event table only refer to by id or code, looked up for many rows at once."""

    categories: dict[str, str]  # code → name
    grid_codes: dict[int, str]  # grid id → code
    reporters: dict[int, str]  # user id → username


def _lookup(db_session: Session, key: Any, value: Any, ids: Iterable[Any]) -> dict[Any, Any]:
    wanted = {i for i in ids if i is not None}
    return dict(db_session.execute(select(key, value).where(key.in_(wanted))).tuples().all()) if wanted else {}


def names(db_session: Session, events: Sequence[Any]) -> Names:
    """Three statements for a page of events (ORM events, or rows of their columns: the export reads
    plain rows and needs no more, server.events.export); the IN lists hold the distinct ids."""
    return Names(_lookup(db_session, EventCategory.code, EventCategory.name, (e.category_code for e in events)),
                 _lookup(db_session, Grid.id, Grid.code, (e.grid_id for e in events)),
                 _lookup(db_session, User.id, User.username, (e.reporter_id for e in events)))


def _chunk(db_session: Session, events: Sequence[Event]) -> list[EventRead]:
    n = names(db_session, events)
    others = _lookup(db_session, Event.id, Event.uuid,
                     (i for e in events for i in (e.possible_duplicate_of_id, e.merged_into_id)))
    ids = [e.id for e in events]
    disputes = {d.event_id: d for d in db_session.scalars(select(Dispute).where(Dispute.event_id.in_(ids)))} \
        if ids else {}
    return [_read(e, category_name=n.categories.get(e.category_code, e.category_code),
                  grid_code=n.grid_codes.get(e.grid_id, ""), reporter=n.reporters.get(e.reporter_id, ""),
                  duplicate_of=others.get(e.possible_duplicate_of_id), merged_into=others.get(e.merged_into_id),
                  dispute=disputes.get(e.id)) for e in events]


def _read(e: Event, *, category_name: str, grid_code: str, reporter: str, duplicate_of: str | None,
          merged_into: str | None, dispute: Dispute | None) -> EventRead:
    state = EventState(e.state)
    return EventRead(
        uuid=e.uuid, serial=serials.shown(e.serial), category_code=e.category_code, category_name=category_name,
        description=e.description, address=e.address, lon=e.lon, lat=e.lat, gps_accuracy_m=e.gps_accuracy_m,
        location_mock=e.location_mock,
        grid_code=grid_code, street_code=e.street_code, reporter=reporter, state=state,
        state_zh=STATE_LABELS_ZH[state], allowed_next=allowed_next(state), reported_at=e.reported_at,
        created_at=e.created_at, updated_at=e.updated_at, due_at=e.due_at, closure_due_at=e.closure_due_at,
        overdue=e.overdue, step_overdue=e.step_overdue, closed_at=e.closed_at, closed_on_time=e.closed_on_time,
        dispatched_to=e.dispatched_to, rejection_reason=e.rejection_reason, satisfaction=e.satisfaction,
        possible_duplicate_of=duplicate_of, merged_into=merged_into, photos=e.photos or [],
        dispute=dispute_read(dispute) if dispute else None,
    )


def created_read(e: Event, *, category: EventCategory, grid_code: str, reporter: User,
                 dispute: Dispute | None) -> EventRead:
    """A report just created, from the rows its creation held (its own duplicate-of pointer, if
    any, is the one lookup): the same shape as event_read without the four lookups per answer."""
    duplicate_of = None
    if e.possible_duplicate_of_id is not None:
        duplicate_of = object_session(e).scalar(select(Event.uuid).where(Event.id == e.possible_duplicate_of_id))
    return _read(e, category_name=category.name, grid_code=grid_code, reporter=reporter.username,
                 duplicate_of=duplicate_of, merged_into=None, dispute=dispute)


def event_read(db_session: Session, e: Event, *, history: bool = False) -> EventRead:
    read = event_reads(db_session, [e])[0]
    return read.model_copy(update={"history": _history(db_session, e.id)}) if history else read


def change(h: EventHistory, event_uuid: str) -> Change:
    return Change(cursor=h.id, event_uuid=event_uuid, kind=h.kind, from_state=h.from_state, to_state=h.to_state,
                  at=h.at)
