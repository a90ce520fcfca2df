"""Feed rows are committed in id order on PostgreSQL (server/database/feed_order.py): while one
transaction holds an uncommitted history row, another cannot take the next id, so a reader polling
`id > cursor` never moves past a row that commits later."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.events import service
from server.events.models import EventHistory
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW


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
