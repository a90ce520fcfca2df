"""POST /events costs a fixed, small number of SQL statements (bench/bench_events.py measures the
time; this pins the count, so a lookup per report cannot creep back: it once took 20, with four for
the two time limits and four more to present the answer), and the answer it builds from the rows
the creation read is the one the presenter gives from the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Executable, text
from sqlalchemy.orm import Session

from server.events import duplicates
from server.events.models import Event, EventHistory
from server.events.presenters import event_read
from tests import factories
from tests.statements import counted

API = "/api/v1/events"
# user; uuid taken?, category and its time limits (one statement); grid candidates; duplicate candidates | SQLite: serial bump; the
# event and its history row (one flush). PostgreSQL: the feed-order lock, the bump and both INSERTs in
# one statement (fewer round trips under the locks every report queues on). Test savepoints apart.
READS = 4
WRITES = {"sqlite": 3, "postgresql": 1}


def _real(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def _as_presented(db_session: Session, uuid: str) -> dict[str, object]:
    return event_read(db_session, db_session.query(Event).filter_by(uuid=uuid).one()).model_dump(mode="json")


def test_a_report_takes_a_fixed_number_of_statements(client, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    headers = factories.auth_headers(world["users"]["worker_a"])
    assert client.post(API, json=factories.event_body(), headers=headers).status_code == 201  # warm
    body = factories.event_body()
    with counted(db_session) as statements:
        created = client.post(API, json=body, headers=headers)
    assert created.status_code == 201, created.text
    locks = [s for s in statements if "pg_advisory_xact_lock" in s]
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        assert len(locks) == 1 and locks[0] == _real(statements)[-1], locks
        assert all(f"INSERT INTO {table} " in locks[0] for table in ("event_serial_counter", "event", "event_history"))
    else:
        assert locks == []
    assert len(_real(statements)) == READS + WRITES[dialect], "\n".join(_real(statements))
    assert created.json() == _as_presented(db_session, body["uuid"])
    event_id = db_session.query(Event.id).filter_by(uuid=body["uuid"]).scalar()
    assert db_session.query(EventHistory).filter_by(event_id=event_id, kind="create").count() == 1

    with counted(db_session) as again:
        retry = client.post(API, json=body, headers=headers)
    assert retry.status_code == 200 and retry.json() == created.json()
    assert len(_real(again)) <= 3 + 5  # user, the first read, the event, then the presenter's lookups (a replay holds no rows)


@pytest.mark.parametrize("extra", [
    {"category_code": "dispute.neighbour", "dispute": {"parties": [{"name": "张三", "role": "申请人"}]}},
    {},  # the same spot as worker_b's report just before: flagged as its possible duplicate
])
def test_the_answer_is_the_presenters(client, db_session: Session, extra: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    first = client.post(API, json=factories.event_body(), headers=factories.auth_headers(world["users"]["worker_b"]))
    assert first.status_code == 201, first.text
    body = factories.event_body(**extra)
    created = client.post(API, json=body, headers=factories.auth_headers(world["users"]["worker_a"]))
    assert created.status_code == 201, created.text
    assert created.json() == _as_presented(db_session, body["uuid"])
    assert (created.json()["dispute"] is not None) == bool(extra)
    assert (created.json()["possible_duplicate_of"] == first.json()["uuid"]) == (not extra)


def test_postgres_parses_the_report_write_once(client, db_session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """psycopg keeps its parse of a statement only up to a number of parameters (server.database.core):
    the report's one write has more than psycopg's own 50, and must not be parsed again each time."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's driver only")
    from psycopg import _queries

    from server.events.serials import _numbered_statement

    assert len(_numbered_statement().compile().params) > 50  # else this test proves nothing
    world = factories.event_world(db_session)
    headers = factories.auth_headers(world["users"]["worker_a"])
    assert client.post(API, json=factories.event_body(), headers=headers).status_code == 201
    parsed: list[bytes] = []
    uncached = _queries._query2pg_nocache  # what psycopg calls for a statement it does not keep

    def counting(query: bytes, encoding: str):  # type: ignore[no-untyped-def]
        parsed.append(query)
        return uncached(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", counting)
    assert client.post(API, json=factories.event_body(), headers=headers).status_code == 201
    assert parsed == []


def _plan(db_session: Session, statement: Executable, params: dict[str, object]) -> str:
    """The database's plan for `statement` with `params` (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL)."""
    connection = db_session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    values = compiled.construct_params(params)
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(values[k] for k in compiled.positiontup))
        return "\n".join(row[-1] for row in rows)
    return "\n".join(connection.exec_driver_sql(f"EXPLAIN {compiled}", values).scalars())


def test_the_duplicate_check_reads_one_index_alone(db_session: Session) -> None:
    """A report's duplicate check finds the day's events of its category and compares their place in
    the index (migration 0019; on SQLite their reporter and state too), not row by row in the table:
    it once grew with the day's reports (1 ms per report at 1,200 of a category on SQLite)."""
    params = {"category_code": "sanitation.garbage", "reporter_id": 1, "lon0": 113.0, "lon1": 113.1,
              "lat0": 23.0, "lat1": 23.1, "t0": "2026-11-19T02:00:00+00:00", "t1": "2026-11-21T02:00:00+00:00"}
    if db_session.get_bind().dialect.name == "postgresql":  # an empty table is read whole whatever its indexes
        db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = _plan(db_session, duplicates._NEAR, params)
    if db_session.get_bind().dialect.name == "sqlite":
        assert plan == "SEARCH event USING COVERING INDEX ix_event_category_near (category_code=? AND reported_at>? " \
                       "AND reported_at<?)", plan
    else:  # the place is compared in the index: only the events near enough are read from the table
        scan, cond = plan.splitlines()[:2]
        assert "using ix_event_category_near on event" in scan and "lon >=" in cond and "lat <=" in cond, plan
