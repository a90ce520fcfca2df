"""A page of events costs the same statements for 2 rows as for 30 (the presenter once ran six per
event: 0.94 s for a page of 500 on the demo), and reads the same as one event read alone."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.events import service
from server.events.presenters import event_read, event_reads
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW
from tests.statements import counted


def test_statements_do_not_grow_with_the_page(db_session: Session) -> None:
    users = factories.event_world(db_session)["users"]
    events = [service.create(db_session=db_session, reporter=users["worker_a"], now=NOW, data=EventCreate.model_validate(
        factories.event_body(factories.gk_square(0, 0))))[0] for _ in range(30)]
    events[1].possible_duplicate_of_id = events[0].id
    db_session.flush()
    with counted(db_session) as two:
        event_reads(db_session, events[:2])
    with counted(db_session) as thirty:
        page = event_reads(db_session, events)
    assert len(thirty) == len(two) == 1  # names, pointers and disputes joined: one statement
    assert page == [event_read(db_session, e) for e in events]
    assert page[1].possible_duplicate_of == events[0].uuid


def test_one_event_with_its_history_costs_two_statements(db_session: Session) -> None:
    """The detail of a sync or a desk: the event's names, pointers and dispute joined, its history
    with the actors' names joined (it once took seven)."""
    users = factories.event_world(db_session)["users"]
    event = service.create(db_session=db_session, reporter=users["worker_a"], now=NOW, data=EventCreate.model_validate(
        factories.event_body(factories.gk_square(0, 0))))[0]
    db_session.flush()
    with counted(db_session) as statements:
        read = event_read(db_session, event, history=True)
    assert len(statements) == 2
    assert read.reporter == users["worker_a"].username and read.history
    assert [h.actor for h in read.history] == [users["worker_a"].username] * len(read.history)
