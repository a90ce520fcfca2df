"""Feed rows are committed in id order on PostgreSQL (server/database/feed_order.py): while one
transaction holds an uncommitted history row, another cannot take the next id, so a reader polling
`id > cursor` never moves past a row that commits later."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.database.singleton import advisory_key
from server.events import service
from server.events.models import Event, EventHistory
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW
from tests.statements import counted


def _report(s: Session, reporter, cell: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    service.create(db_session=s, reporter=reporter, now=NOW,
                   data=EventCreate.model_validate(factories.event_body(factories.gk_square(*cell))))


def test_a_second_writer_waits_for_the_first_to_commit(fresh_db_url: str) -> None:
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: history ids are in commit order by construction")
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        users = factories.event_world(s)["users"]
        s.commit()
    first, second = Session(engine), Session(engine)
    try:
        first.connection()  # in a transaction already: the report's statement does not commit itself (below)
        _report(first, first.merge(users["worker_a"]), (0, 0))  # flushed, holds history id n, not committed
        second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            _report(second, second.merge(users["worker_b"]), (1, 0))  # would take id n+1 before n commits
        second.rollback()
        first.commit()
        _report(second, second.merge(users["worker_b"]), (1, 0))
        second.commit()
        with Session(engine) as s:
            ids = s.scalars(select(EventHistory.id).order_by(EventHistory.id)).all()
        assert len(ids) == 2
    finally:
        first.close()
        second.close()
        engine.dispose()


def _feed_lock_held(s: Session) -> bool:
    key = advisory_key(f"feed {EventHistory.__name__}")
    return bool(s.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                              " AND pid = pg_backend_pid() AND objid = :key"), {"key": key}))


def test_the_serial_bump_takes_the_feed_lock_and_a_rolled_back_savepoint_gives_it_back(fresh_db_url: str) -> None:
    """The bump carries the lock (so the flush skips it); a savepoint rolled back released it, and
    the next flush that writes the feed takes it again."""
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("the feed lock is PostgreSQL's")
    engine = make_engine(fresh_db_url)
    try:
        with Session(engine) as s:
            users = factories.event_world(s)["users"]
            s.commit()
            assert not _feed_lock_held(s)
            s.connection()  # a transaction: the lock is held until its commit
            _report(s, users["worker_a"], (0, 0))
            assert _feed_lock_held(s)
            s.commit()
            assert not _feed_lock_held(s)
            with s.begin_nested() as savepoint:
                _report(s, users["worker_b"], (1, 0))
                assert _feed_lock_held(s)
                savepoint.rollback()
            assert not _feed_lock_held(s)
            s.scalars(select(Event)).one().description = "改"
            with counted(s) as statements:
                s.flush()
            assert any("pg_advisory_xact_lock" in statement for statement in statements)
            assert _feed_lock_held(s)
            s.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("category_code, holds", [("sanitation.garbage", False), ("dispute.neighbour", True)])
def test_a_report_alone_commits_itself_and_holds_no_lock_once_written(fresh_db_url: str, category_code: str,
                                                                       holds: bool) -> None:
    """PostgreSQL: a report outside a transaction reads in autocommit, and one without photos or a
    dispute row is written by one statement that commits itself: the feed's lock and the serial
    counter's row are released inside PostgreSQL, never held while Python returns and waits for the
    caller's commit. A dispute (two statements) is one transaction: locked and unseen until then."""
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("the feed lock is PostgreSQL's")
    engine = make_engine(fresh_db_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            users = factories.event_world(s)["users"]
            s.commit()
        with Session(engine) as s, Session(engine) as other:
            body = factories.event_body(factories.gk_square(0, 0), category_code=category_code)
            service.create(db_session=s, reporter=users["worker_a"], now=NOW,  # detached, as from the user cache
                           data=EventCreate.model_validate(body))
            seen = other.scalar(select(Event.serial).where(Event.uuid == body["uuid"]))
            assert (seen is None) == holds  # committed already, or not before the caller's commit
            locked = not other.scalar(select(func.pg_try_advisory_xact_lock(advisory_key("feed EventHistory"))))
            assert locked == holds
            other.rollback()
            s.commit()
            assert other.scalar(select(Event.serial).where(Event.uuid == body["uuid"])) == "440112-2026-000001"
    finally:
        engine.dispose()
