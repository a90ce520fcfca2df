"""The state machine: every allowed and every forbidden pair, and what a transition stamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.auth.enums import Role
from server.errors import Conflict, Forbidden
from server.events import service
from server.events.enums import EventState
from server.events.models import EventHistory
from server.events.schemas import EventCreate
from server.events.transitions import ROLES_FOR, TRANSITIONS, transition
from tests import factories
from tests.conftest import NOW

PAIRS = [(a, b) for a in EventState for b in EventState]
ALLOWED = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _event(db_session, world, state: EventState):  # type: ignore[no-untyped-def]
    event, _ = service.create(db_session=db_session, reporter=world["users"]["worker_a"],
                              data=EventCreate(**factories.event_body()), now=NOW)
    event.state = state.value
    db_session.flush()
    return event


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition(db_session, world, src: EventState, dst: EventState) -> None:  # type: ignore[no-untyped-def]
    event = _event(db_session, world, src)
    at = datetime.now(UTC)
    row = transition(db_session=db_session, event=event, to=dst, actor=world["users"]["admin"], at=at)
    assert event.state == dst.value and event.updated_at == at
    assert (row.from_state, row.to_state, row.actor_id) == (src.value, dst.value, world["users"]["admin"].id)


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_transition(db_session, world, src: EventState, dst: EventState) -> None:  # type: ignore[no-untyped-def]
    event = _event(db_session, world, src)
    before = db_session.query(EventHistory).filter_by(event_id=event.id).count()
    with pytest.raises(Conflict) as err:
        transition(db_session=db_session, event=event, to=dst, actor=world["users"]["admin"], at=datetime.now(UTC))
    assert err.value.code == "illegal_transition"
    assert err.value.detail["allowed_next"] == sorted(TRANSITIONS[src])
    assert event.state == src.value
    assert db_session.query(EventHistory).filter_by(event_id=event.id).count() == before


@pytest.mark.parametrize("dst", [s for s in EventState if s in ROLES_FOR])
def test_roles_per_target_state(db_session, world, dst: EventState) -> None:  # type: ignore[no-untyped-def]
    src = next(a for a, b in ALLOWED if b == dst)
    for role in Role:
        event = _event(db_session, world, src)
        actor = factories.user(db_session, role)
        if role in ROLES_FOR[dst]:
            transition(db_session=db_session, event=event, to=dst, actor=actor, at=datetime.now(UTC))
        else:
            with pytest.raises(Forbidden):
                transition(db_session=db_session, event=event, to=dst, actor=actor, at=datetime.now(UTC))


def test_closing_on_time_and_late(db_session, world) -> None:  # type: ignore[no-untyped-def]
    on_time = _event(db_session, world, EventState.handled)
    at = on_time.closure_due_at - timedelta(minutes=1)
    transition(db_session=db_session, event=on_time, to=EventState.closed, actor=world["users"]["admin"], at=at)
    assert on_time.closed_at == at and on_time.closed_on_time is True and on_time.overdue is False
    late = _event(db_session, world, EventState.handled)
    at = late.closure_due_at + timedelta(seconds=1)
    transition(db_session=db_session, event=late, to=EventState.closed, actor=world["users"]["admin"], at=at)
    assert late.closed_on_time is False and late.overdue is True
    # the review step's clock starts; reviewing keeps the closing facts
    assert late.due_at is not None and late.due_at > at
    transition(db_session=db_session, event=late, to=EventState.reviewed, actor=world["users"]["admin"],
               at=at + timedelta(hours=1))
    assert late.closed_at == at and late.due_at is None


def test_due_times_follow_working_time(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Friday 16:30 Shanghai + 2 working hours (accept) = Monday 09:30 (08:30–12:00 periods)."""
    friday = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # 16:30 +08:00
    body = factories.event_body(reported_at=friday.isoformat())
    event, _ = service.create(db_session=db_session, reporter=world["users"]["worker_a"], data=EventCreate(**body),
                              now=friday + timedelta(minutes=1))
    assert event.due_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # Monday 09:30 +08:00
    # closure: 5 working days for the default category
    assert event.closure_due_at.astimezone(UTC).date() == datetime(2026, 11, 27, tzinfo=UTC).date()
