"""Requests that change events: a transition with its required fields, merge, dispute update.

Each write may carry an Idempotency-Key, scoped to the user who sends it: a retry with the same
key and body returns the first result without a second history row; the same key with another
body is a 409. The user's right to the change is checked before a replay is answered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.errors import Forbidden, InvalidInput, NotFound
from server.events.enums import EventState
from server.events.models import Dispute, Event, EventHistory
from server.events.schemas import DisputeUpdate, TransitionIn
from server.events.scope import ensure_can_change, visible_events
from server.events.transitions import ensure_reachable, ensure_role, transition
from server.grids.models import GridAssignment
from server.idempotency import check_replay, fingerprint
from server.photos import service as photos
from server.territory import active_assignment

REQUIRED = {
    EventState.rejected: ("rejection_reason", "不予立案须填写理由"),
    EventState.dispatched: ("dispatched_to", "派遣须指定承办部门"),
    EventState.reviewed: ("satisfaction", "回访须填写满意度"),
    EventState.merged: ("merged_into", "合并须指定目标事件"),
}


def _assigned(db_session: Session, user: User, at: datetime) -> set[int]:
    q = select(GridAssignment.grid_id).where(GridAssignment.user_id == user.id, active_assignment(at))
    return set(db_session.scalars(q))


def _replay(db_session: Session, key: str | None, request_hash: str, actor: User) -> EventHistory | None:
    if key is None:
        return None
    row = db_session.scalar(select(EventHistory).where(EventHistory.actor_id == actor.id,
                                                       EventHistory.idempotency_key == key))
    if row is not None:
        check_replay(key=key, stored_hash=row.request_hash, request_hash=request_hash, owner_id=row.actor_id,
                     user_id=actor.id)
    return row


def _require(body: TransitionIn) -> None:
    need = REQUIRED.get(body.to_state)
    if need and getattr(body, need[0]) in (None, ""):
        raise InvalidInput(f"{need[0]} is required to move to {body.to_state}", need[1],
                           code="missing_field", detail={"field": need[0]})


def _merge_target(db_session: Session, event: Event, body: TransitionIn, actor: User, now: datetime) -> Event:
    """Another event the actor may see: one outside their territory is as unknown as no event."""
    target = db_session.scalar(select(Event).where(Event.uuid == str(body.merged_into), visible_events(actor, now)))
    if target is None or target.id == event.id or target.state == EventState.merged.value:
        raise InvalidInput("merge target must be another, unmerged event", "合并目标须为另一个未合并的事件",
                           code="bad_merge_target")
    return target


def apply(*, db_session: Session, event: Event, body: TransitionIn, actor: User,
          now: datetime, idempotency_key: str | None = None) -> tuple[EventHistory, bool]:
    """(history row, applied). applied is False for a replayed Idempotency-Key."""
    request_hash = fingerprint({"event": event.uuid, **body.model_dump(mode="json")})
    ensure_can_change(actor, event, _assigned(db_session, actor, now))
    ensure_reachable(event, body.to_state)
    ensure_role(actor, body.to_state)
    if (done := _replay(db_session, idempotency_key, request_hash, actor)) is not None:
        return done, False
    _require(body)
    photos.ensure_exist(db_session=db_session, keys=body.photos, user=actor, now=now)
    data: dict[str, object] = {}
    if body.to_state is EventState.merged:
        target = _merge_target(db_session, event, body, actor, now)
        data["merged_into"] = target.uuid
    row = transition(db_session=db_session, event=event, to=body.to_state, actor=actor, at=now, note=body.note,
                     attachments=body.photos, data=data, idempotency_key=idempotency_key, request_hash=request_hash)
    photos.link(db_session=db_session, keys=body.photos, record_type="event", record_id=event.id,  # its photos too
                street_code=event.street_code, grid_id=event.grid_id, owner_id=event.reporter_id)
    if body.to_state is EventState.dispatched:
        event.dispatched_to = body.dispatched_to
    elif body.to_state is EventState.rejected:
        event.rejection_reason = body.rejection_reason
    elif body.to_state is EventState.reviewed:
        event.satisfaction = body.satisfaction.value if body.satisfaction else None
    elif body.to_state is EventState.merged:
        event.merged_into_id = target.id
        db_session.add(EventHistory(event_id=target.id, kind="merge", from_state=target.state, to_state=target.state,
                                    actor_id=actor.id, actor_role=actor.role, at=now,
                                    data={"merged_from": event.uuid}, note=body.note))
    db_session.flush()
    return row, True


MAX_PHOTOS = 20  # an event's report photos, as many as EventCreate accepts


def attach_photos(*, db_session: Session, event: Event, keys: list[str], actor: User,
                  now: datetime) -> EventHistory | None:
    """Add report photos that arrived after the event: the reporter's own, already uploaded. Keys
    the event holds already are skipped, so a retry adds nothing (and None is returned: no change)."""
    if event.reporter_id != actor.id:
        raise Forbidden("only the reporter adds report photos; others attach photos to a transition",
                        "仅上报人可补充上报照片", code="not_the_reporter")
    new = [k for k in dict.fromkeys(keys) if k not in (event.photos or [])]
    if not new:
        return None
    if len(event.photos or []) + len(new) > MAX_PHOTOS:
        raise InvalidInput(f"an event holds at most {MAX_PHOTOS} photos", f"每个事件最多{MAX_PHOTOS}张照片",
                           code="too_many_photos")
    photos.ensure_exist(db_session=db_session, keys=new, user=actor, now=now)
    event.photos = [*(event.photos or []), *new]
    event.updated_at = now
    photos.link(db_session=db_session, keys=new, record_type="event", record_id=event.id,
                street_code=event.street_code, grid_id=event.grid_id, owner_id=event.reporter_id)
    row = EventHistory(event_id=event.id, kind="photos", from_state=event.state, to_state=event.state,
                       actor_id=actor.id, actor_role=actor.role, at=now, attachments=new, data={})
    db_session.add(row)
    db_session.flush()
    return row


def update_dispute(*, db_session: Session, event: Event, body: DisputeUpdate, actor: User,
                   now: datetime) -> Dispute:
    """Record mediation and reply; each update leaves a history row with what changed."""
    ensure_can_change(actor, event, _assigned(db_session, actor, now))
    dispute = db_session.get(Dispute, event.id)
    if dispute is None:
        raise NotFound("this event is not a dispute", "该事件不是矛盾纠纷", code="not_a_dispute")
    changes = body.model_dump(mode="json", exclude_unset=True)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(dispute, field, [p if isinstance(p, dict) else p.model_dump() for p in value]
                if field == "parties" else value)
    db_session.add(EventHistory(event_id=event.id, kind="dispute", from_state=event.state, to_state=event.state,
                                actor_id=actor.id, actor_role=actor.role, at=now, data=changes))
    db_session.flush()
    return dispute
