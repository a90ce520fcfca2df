"""The event flow as data: which state may follow which, and which roles may move it there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.errors import Conflict, Forbidden
from server.events import time_limits
from server.events.enums import CLOSED_STATES, STATE_LABELS_ZH, STEP_OF_STATE
from server.events.enums import EventState as S
from server.events.models import Event, EventHistory

TRANSITIONS: dict[S, frozenset[S]] = {
    S.reported: frozenset({S.accepted, S.rejected, S.merged}),
    S.accepted: frozenset({S.dispatched, S.merged}),
    S.dispatched: frozenset({S.handled, S.returned}),
    S.returned: frozenset({S.dispatched, S.rejected}),
    S.handled: frozenset({S.closed, S.dispatched}),  # handling not accepted: dispatch again
    S.closed: frozenset({S.reviewed}),
    S.rejected: frozenset(),
    S.reviewed: frozenset(),
    S.merged: frozenset(),
}

_STAFF = frozenset({Role.street_admin, Role.district_admin, Role.command_center})
# Grid workers report and may record their own on-the-spot handling (就地处置).
ROLES_FOR: dict[S, frozenset[Role]] = {
    S.accepted: _STAFF,
    S.rejected: _STAFF,
    S.dispatched: _STAFF,
    S.returned: _STAFF,
    S.handled: _STAFF | {Role.grid_worker},
    S.closed: _STAFF,
    S.reviewed: _STAFF,
    S.merged: _STAFF,
}


def allowed_next(state: S) -> list[S]:
    """Sorted for stable error bodies (HTTP 409 lists them)."""
    return sorted(TRANSITIONS[state])


def illegal(current: S, to: S) -> Conflict:
    return Conflict(f"cannot go from {current} to {to}; allowed: {', '.join(allowed_next(current)) or 'none'}",
                    f"事件状态 {STATE_LABELS_ZH[current]} 不能变更为 {STATE_LABELS_ZH[to]}",
                    code="illegal_transition", detail={"state": current, "allowed_next": allowed_next(current)})


def ensure_reachable(event: Event, to: S) -> None:
    """409 for a state no transition leads to (`reported`), from whatever state, before the role is
    checked: only reachable states have roles (ROLES_FOR)."""
    if to not in ROLES_FOR:
        raise illegal(S(event.state), to)


def ensure_role(actor: User, to: S) -> None:
    """403 unless the actor's role may move an event to `to` (also checked before a replay is answered)."""
    if Role(actor.role) not in ROLES_FOR[to]:
        raise Forbidden(f"role {actor.role} may not move an event to {to}",
                        f"角色 {actor.role} 无权将事件变更为 {STATE_LABELS_ZH[to]}", code="role_forbidden")


def transition(
    *, db_session: Session, event: Event, to: S, actor: User | None, at: datetime, note: str | None = None,
    attachments: list[str] | None = None, data: dict[str, Any] | None = None, kind: str = "transition",
    idempotency_key: str | None = None, request_hash: str | None = None,
) -> EventHistory:
    """The one way an event changes state: check, append history, stamp times, recompute due times.

    `actor` None is the system (the time-limit sweep), which never changes state itself.
    """
    current = S(event.state)
    if to not in TRANSITIONS[current]:
        raise illegal(current, to)
    if actor is not None:
        ensure_role(actor, to)
    row = EventHistory(
        event_id=event.id, kind=kind, from_state=current.value, to_state=to.value,
        actor_id=actor.id if actor else None, actor_role=actor.role if actor else None, at=at, note=note,
        attachments=list(attachments or []), data=dict(data or {}), idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    db_session.add(row)
    event.state = to.value
    event.updated_at = at
    if to in CLOSED_STATES and event.closed_at is None:
        event.closed_at = at
        event.closed_on_time = at <= event.closure_due_at
        event.overdue = not event.closed_on_time
    step = STEP_OF_STATE.get(to)
    event.due_at = time_limits.due(db_session=db_session, category_code=event.category_code, step=step, start=at) \
        if step else None
    event.step_overdue = False
    db_session.flush()
    return row
