"""ORM rows → API shapes, in one place so list, detail, export and feed agree."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.events.enums import STATE_LABELS_ZH, EventState
from server.events.models import Dispute, Event, EventCategory, EventHistory
from server.events.schemas import Change, DisputeRead, EventRead, HistoryRead
from server.events.transitions import allowed_next
from server.grids.models import Grid


def _uuid(db_session: Session, event_id: int | None) -> str | None:
    return None if event_id is None else db_session.scalar(select(Event.uuid).where(Event.id == event_id))


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


def event_read(db_session: Session, e: Event, *, history: bool = False) -> EventRead:
    state = EventState(e.state)
    category = db_session.get(EventCategory, e.category_code)
    grid_code = db_session.scalar(select(Grid.code).where(Grid.id == e.grid_id)) or ""
    reporter = db_session.scalar(select(User.username).where(User.id == e.reporter_id)) or ""
    dispute = db_session.get(Dispute, e.id)
    return EventRead(
        uuid=e.uuid, category_code=e.category_code, category_name=category.name if category else e.category_code,
        description=e.description, address=e.address, lon=e.lon, lat=e.lat, gps_accuracy_m=e.gps_accuracy_m,
        location_mock=e.location_mock,
        grid_code=grid_code, street_code=e.street_code, reporter=reporter, state=state,
        state_zh=STATE_LABELS_ZH[state], allowed_next=allowed_next(state), reported_at=e.reported_at,
        created_at=e.created_at, updated_at=e.updated_at, due_at=e.due_at, closure_due_at=e.closure_due_at,
        overdue=e.overdue, step_overdue=e.step_overdue, closed_at=e.closed_at, closed_on_time=e.closed_on_time,
        dispatched_to=e.dispatched_to, rejection_reason=e.rejection_reason, satisfaction=e.satisfaction,
        possible_duplicate_of=_uuid(db_session, e.possible_duplicate_of_id),
        merged_into=_uuid(db_session, e.merged_into_id), photos=e.photos or [],
        dispute=dispute_read(dispute) if dispute else None,
        history=_history(db_session, e.id) if history else None,
    )


def change(h: EventHistory, event_uuid: str) -> Change:
    return Change(cursor=h.id, event_uuid=event_uuid, kind=h.kind, from_state=h.from_state, to_state=h.to_state,
                  at=h.at)
