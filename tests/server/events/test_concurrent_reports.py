"""A flaky phone's retries arriving at the same moment still make exactly one event, and the copies
that lose the race give back the serial number they took (the next report gets the next number)."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.database.core import make_engine
from server.events import service
from server.events.models import Event, EventHistory, EventSerialCounter
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW

THREADS = 8


def test_concurrent_duplicate_reports_make_one_event(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        factories.tree(s)
        factories.grid(s, "440112001001001", factories.gk_square(0, 0))
        worker_id = factories.user(s, Role.district_admin).id
        s.commit()
    data = EventCreate(**factories.event_body())
    barrier = threading.Barrier(THREADS, timeout=30)

    def submit(_: int) -> tuple[str, bool]:
        barrier.wait()  # all start together; each then waits its turn for the write lock
        with Session(engine) as s:
            reporter = s.get(factories.User, worker_id)
            event, created = service.create(db_session=s, reporter=reporter, data=data, now=NOW)
            s.commit()
            return event.uuid, created

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(submit, range(THREADS)))
    assert {u for u, _ in results} == {str(data.uuid)}
    assert sum(created for _, created in results) == 1
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
        assert s.scalar(select(func.count()).select_from(EventHistory)) == 1
        assert s.scalar(select(EventSerialCounter.last_value)) == 1
        assert s.scalar(select(Event.serial)).endswith("-000001")
    engine.dispose()


def test_a_copy_that_read_before_the_first_was_written_is_undone_whole(fresh_db_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a session of its own a report reads in autocommit and writes in a transaction of its own
    (ReadsFirst): a copy whose read came before the first copy's commit meets the uuid's unique index,
    and its whole transaction is rolled back, the number it took and SQLite's write lock with it."""
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        factories.tree(s)
        factories.grid(s, "440112001001001", factories.gk_square(0, 0))
        reporter = factories.user(s, Role.district_admin)
        s.commit()
    data = EventCreate(**factories.event_body())
    with Session(engine, expire_on_commit=False) as s:
        first, created = service.create(db_session=s, reporter=reporter, data=data, now=NOW)
        s.commit()
    assert created
    read = service._first_read  # as if read before the first copy was written: the uuid looks free
    monkeypatch.setattr(service, "_first_read",
                        lambda *args: dataclasses.replace(read(*args), taken_by=None))
    with Session(engine, expire_on_commit=False) as s:
        assert not s.in_transaction()  # the report's own transactions, not a caller's
        copy, created = service.create(db_session=s, reporter=reporter, data=data, now=NOW)
        s.commit()
    assert (copy.id, created) == (first.id, False)
    monkeypatch.undo()
    with Session(engine, expire_on_commit=False) as s:  # the lock went with the rollback (else this waits for the busy timeout)
        after, created = service.create(db_session=s, reporter=reporter, data=EventCreate(**factories.event_body()),
                                        now=NOW)
        s.commit()
    assert created and after.serial.endswith("-000002")  # the copy's number was given back
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 2
        assert s.scalar(select(func.count()).select_from(EventHistory)) == 2
    engine.dispose()
