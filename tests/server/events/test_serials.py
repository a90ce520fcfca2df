"""Event numbers people say on the phone (2026-000123): per district and year, given once, never twice."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.database.core import make_engine
from server.database.migrate import downgrade, upgrade
from server.events import serials, service
from server.events.models import Event, EventSerialCounter
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW

API = "/api/v1/events"
THREADS = 8


def _create(db_session: Session, reporter, *, at: datetime, uid: str | None = None) -> Event:  # type: ignore[no-untyped-def]
    body = factories.event_body(reported_at=at.isoformat(), uuid=uid or str(uuid.uuid4()))
    event, _ = service.create(db_session=db_session, reporter=reporter, data=EventCreate(**body),
                              now=at + timedelta(minutes=1))
    return event


def test_numbers_follow_each_other_and_a_retry_keeps_its_own(client, db_session) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    headers = factories.auth_headers(world["users"]["worker_a"])
    body = factories.event_body()
    first = client.post(API, json=body, headers=headers).json()
    again = client.post(API, json=body, headers=headers)
    second = client.post(API, json=factories.event_body(), headers=headers).json()
    assert (first["serial"], second["serial"]) == ("2026-000001", "2026-000002")
    assert again.status_code == 200 and again.json()["serial"] == "2026-000001"  # the retry took no number
    assert client.get(f"{API}/{second['uuid']}", headers=headers).json()["serial"] == "2026-000002"
    stored = db_session.scalar(select(Event.serial).where(Event.uuid == second["uuid"]))
    assert stored == "440112-2026-000002"


def test_the_year_is_the_year_reported_in_shanghai(db_session) -> None:  # type: ignore[no-untyped-def]
    worker = factories.event_world(db_session)["users"]["worker_a"]
    late_2026 = _create(db_session, worker, at=datetime(2026, 12, 31, 15, 59, tzinfo=UTC))  # 23:59 local
    new_year = _create(db_session, worker, at=datetime(2026, 12, 31, 16, 0, tzinfo=UTC))  # 00:00 local, 2027
    assert (serials.shown(late_2026.serial), serials.shown(new_year.serial)) == ("2026-000001", "2027-000001")


def test_backfill_numbers_bulk_loaded_rows_after_the_counter(db_session) -> None:  # type: ignore[no-untyped-def]
    worker = factories.event_world(db_session)["users"]["worker_a"]
    events = [_create(db_session, worker, at=NOW - timedelta(hours=5 - i)) for i in range(4)]
    ids = [e.id for e in events[1:3]]
    db_session.execute(update(Event).where(Event.id.in_(ids)).values(serial=None))  # as a bulk insert leaves them
    assert serials.backfill(db_session) == 2
    db_session.expire_all()
    assert [serials.shown(db_session.get(Event, e.id).serial) for e in events] == [
        "2026-000001", "2026-000005", "2026-000006", "2026-000004"]
    assert db_session.get(EventSerialCounter, ("440112", 2026)).last_value == 6
    assert serials.backfill(db_session) == 0


def test_concurrent_creations_get_distinct_consecutive_numbers(fresh_db_url: str) -> None:
    """Writers at the same moment, some of them retries of one report: every event one number, no gaps."""
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        factories.tree(s)
        factories.grid(s, "440112001001001", factories.gk_square(0, 0))
        worker_id = factories.user(s, Role.district_admin).id
        s.commit()
    retried = str(uuid.uuid4())
    uids = [retried if i % 3 == 0 else str(uuid.uuid4()) for i in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=30)

    def submit(uid: str) -> tuple[str, str]:
        body = EventCreate(**factories.event_body(uuid=uid, reported_at=(NOW - timedelta(minutes=5)).isoformat()))
        barrier.wait()
        with Session(engine) as s:
            event, _ = service.create(db_session=s, reporter=s.get(factories.User, worker_id), data=body, now=NOW)
            s.commit()
            return event.uuid, event.serial or ""

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(submit, uids))
    by_uuid = dict(results)
    assert len(by_uuid) == len(set(uids)) and all(serial for _, serial in results)
    assert len({serial for _, serial in results if _ == retried}) == 1  # every retry answered with one number
    numbers = sorted(int(s.rsplit("-", 1)[1]) for s in by_uuid.values())
    assert numbers == list(range(1, len(set(uids)) + 1))
    with Session(engine) as s:
        assert s.get(EventSerialCounter, ("440112", NOW.year)).last_value == len(set(uids))
    engine.dispose()


def test_the_migration_numbers_existing_events(tmp_path: Path) -> None:
    """Down to before 0014 and up again: events already there are numbered in the order reported, counters set."""
    url = f"sqlite:///{tmp_path / 'serial.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        factories.tree(s)
        factories.grid(s, "440112001001001", factories.gk_square(0, 0))
        worker = factories.user(s, Role.district_admin)
        moments = [NOW - timedelta(hours=3), NOW - timedelta(hours=9), NOW - timedelta(hours=1)]
        uids = [_create(s, worker, at=m).uuid for m in moments]
        s.commit()
    engine.dispose()
    downgrade(url, "0014_event_serial-1")  # to just before the numbering, whatever comes before it
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        shown = [serials.shown(s.scalar(select(Event.serial).where(Event.uuid == u))) for u in uids]
        assert shown == ["2026-000002", "2026-000001", "2026-000003"]  # by time reported
        assert s.get(EventSerialCounter, ("440112", 2026)).last_value == 3
        worker = s.scalar(select(factories.User).where(factories.User.role == Role.district_admin.value))
        assert serials.shown(_create(s, worker, at=NOW - timedelta(minutes=30)).serial) == "2026-000004"
    engine.dispose()
