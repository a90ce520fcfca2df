"""The demo year follows the platform's own rules, so indicators computed on it mean something."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from server.demo import load_demo
from server.demo_operations import load_operations
from server.events.enums import EventState
from server.events.models import Event, EventHistory
from server.events.transitions import TRANSITIONS
from server.visits.models import Visit


def test_demo_operations_are_consistent(db_session) -> None:  # type: ignore[no-untyped-def]
    load_demo(db_session)
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    counts = load_operations(db_session, now=now, days=45, seed=7)
    assert counts["events"] > 1000 and counts["visits"] > 5000
    events = {e.id: e for e in db_session.scalars(select(Event))}
    paths: dict[int, list[EventHistory]] = defaultdict(list)
    for h in db_session.scalars(select(EventHistory).order_by(EventHistory.id)):
        paths[h.event_id].append(h)
    for eid, rows in paths.items():
        e = events[eid]
        moves = [r for r in rows if r.kind in ("create", "transition")]
        assert moves[0].kind == "create" and moves[0].to_state == "reported"
        for prev, nxt in zip(moves, moves[1:]):
            assert EventState(nxt.to_state) in TRANSITIONS[EventState(prev.to_state)]
            assert nxt.at >= prev.at
        assert moves[-1].to_state == e.state
        if e.closed_at is not None:
            assert e.closed_on_time == (e.closed_at <= e.closure_due_at)
        assert all(r.at <= now for r in rows)
    closed = [e for e in events.values() if e.closed_at is not None]
    on_time = sum(e.closed_on_time for e in closed) / len(closed)
    assert 0.85 < on_time < 0.98
    visits = list(db_session.scalars(select(Visit)))
    counted = sum(v.counted for v in visits) / len(visits)
    assert 0.85 < counted < 0.97
    assert all(v.counted == (v.not_counted_reason is None) for v in visits)



def test_events_reported_after_the_demo_get_new_ids(db_session) -> None:  # type: ignore[no-untyped-def]
    """The demo gives its events ids; PostgreSQL's id sequence must move past them (SQLite takes max + 1)."""
    load_demo(db_session)
    load_operations(db_session, now=datetime(2026, 11, 23, 6, 0, tzinfo=UTC), days=3, seed=7)
    top = db_session.scalar(select(func.max(Event.id)))
    assert top
    if db_session.get_bind().dialect.name == "postgresql":
        assert db_session.scalar(text("SELECT nextval(pg_get_serial_sequence('event', 'id'))")) > top
