"""The time-limit sweep: warnings before closure is due (预警) and overdue marks (超期).

Run by `gridops events sweep` (once, or `--every SECONDS`). It writes history rows of kind
`warning`/`overdue` so the dashboard feed sees them; it never changes an event's state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.events.enums import CLOSED_STATES, TERMINAL, EventState
from server.events.models import Event, EventHistory



def _open_states() -> list[str]:
    return [s.value for s in EventState if s not in TERMINAL and s not in CLOSED_STATES]


def sweep(*, db_session: Session, now: datetime, warn_before: timedelta = timedelta(hours=4)) -> dict[str, int]:
    """Mark what became overdue or nearly due since the last sweep; idempotent."""
    counts = {"warning": 0, "overdue": 0, "step_overdue": 0}
    open_q = select(Event).where(Event.state.in_(_open_states()))
    for event in db_session.scalars(open_q.where(Event.overdue.is_(False), Event.closure_due_at < now)):
        event.overdue = True
        _log(db_session, event, "overdue", now, {"closure_due_at": event.closure_due_at.isoformat()})
        counts["overdue"] += 1
    for event in db_session.scalars(open_q.where(
            Event.warned_at.is_(None), Event.overdue.is_(False), Event.closure_due_at < now + warn_before)):
        event.warned_at = now
        _log(db_session, event, "warning", now, {"closure_due_at": event.closure_due_at.isoformat()})
        counts["warning"] += 1
    for event in db_session.scalars(select(Event).where(
            Event.state.not_in([s.value for s in TERMINAL]), Event.step_overdue.is_(False), Event.due_at < now)):
        event.step_overdue = True
        _log(db_session, event, "step_overdue", now, {"due_at": event.due_at.isoformat() if event.due_at else None})
        counts["step_overdue"] += 1
    db_session.flush()
    return counts


def _log(db_session: Session, event: Event, kind: str, now: datetime, data: dict[str, object]) -> None:
    db_session.add(EventHistory(event_id=event.id, kind=kind, from_state=event.state, to_state=event.state,
                                at=now, data=data))
