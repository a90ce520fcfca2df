"""The app usage indicator (app_usage_rate) on hand-made app sessions, and the route that records them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server.auth import service as auth
from server.auth.models import AppSession
from server.indicators import service
from server.indicators.app_queries import app_usage_rates, not_using
from server.indicators.periods import parse_period, parse_scope
from tests import factories
from tests.statements import counted

NOV, Q4 = parse_period("2026-11"), parse_period("2026-Q4")
STREET1, DISTRICT = parse_scope("street:440112001"), parse_scope("district:440112")
AFTER = datetime(2026, 12, 10, tzinfo=UTC)  # ten days of December elapsed


def app_usage_rate(db_session, scope, period, now):  # type: ignore[no-untyped-def]
    return app_usage_rates(db_session, [scope], period, now)[scope]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """Workers a, b (street 1) and c (street 2), assigned since September; their syncs:
    a twice on 5 November and once on 6 November; b at 23:30 on 31 October in Shanghai (15:30 UTC),
    which is October; c in November."""
    made = factories.event_world(db_session)
    users = made["users"]
    for who, at in (("worker_a", "2026-11-05T01:00Z"), ("worker_a", "2026-11-05T09:00Z"),
                    ("worker_a", "2026-11-06T01:00Z"), ("worker_b", "2026-10-31T15:30Z"),
                    ("worker_c", "2026-11-20T01:00Z")):
        auth.record_app_session(db_session=db_session, user=users[who], app_version="0.1.0",
                                now=datetime.fromisoformat(at))
    db_session.flush()
    return made


def test_one_row_per_worker_and_shanghai_day(db_session, world) -> None:  # type: ignore[no-untyped-def]
    rows = db_session.scalars(select(AppSession).where(AppSession.user_id == world["users"]["worker_a"].id)
                              .order_by(AppSession.day)).all()
    assert [(str(r.day), r.syncs) for r in rows] == [("2026-11-05", 2), ("2026-11-06", 1)]
    b = db_session.scalar(select(AppSession).where(AppSession.user_id == world["users"]["worker_b"].id))
    assert str(b.day) == "2026-10-31"


def test_a_sync_is_one_statement_first_of_the_day_or_not(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Every phone records a sync a minute: one upsert, whether the day's row exists or not."""
    user, later = world["users"]["worker_c"], datetime.fromisoformat("2026-11-21T02:00Z")
    for at, syncs in ((later, 1), (later.replace(hour=3), 2)):  # 10:00 and 11:00 in Shanghai: one day
        with counted(db_session) as statements:
            row = auth.record_app_session(db_session=db_session, user=user, app_version=f"0.{syncs}.0", now=at)
        assert len(statements) == 1
        assert (str(row.day), row.syncs, row.last_at, row.app_version) == ("2026-11-21", syncs, at, f"0.{syncs}.0")
    assert row.first_at == later


def test_the_rate_counts_assigned_workers_who_synced_in_the_month(db_session, world) -> None:  # type: ignore[no-untyped-def]
    r = app_usage_rate(db_session, STREET1, NOV, AFTER)
    assert (r.numerator, r.denominator, r.value) == (1, 2, 50.0)  # a yes; b synced in October (Shanghai)
    assert app_usage_rate(db_session, DISTRICT, NOV, AFTER).value == pytest.approx(200 / 3, abs=1e-3)  # a and c
    q4 = app_usage_rate(db_session, STREET1, Q4, AFTER)
    assert (q4.numerator, q4.denominator) == (2, 6)  # Oct: b; Nov: a; Dec (so far): nobody
    before = app_usage_rate(db_session, STREET1, NOV, datetime(2026, 10, 31, 15, tzinfo=UTC))  # 23:00 in Shanghai
    assert before.value is None  # no data, not 0 % nor 100 %


def test_the_catalogue_value_and_its_drilldown(db_session, world) -> None:  # type: ignore[no-untyped-def]
    value = service.compute(db_session=db_session, code="app_usage_rate", scope=STREET1, period=NOV, now=AFTER)
    assert (value.name_zh, value.value, value.target, value.status) == ("综治信息系统手机APP使用率", 50.0, 100.0,
                                                                        "not_met")
    rows = not_using(db_session, STREET1, Q4, AFTER, 10)
    b, a = world["users"]["worker_b"], world["users"]["worker_a"]
    assert rows == sorted([
        {"网格员": a.username, "姓名": a.full_name, "未使用月份": "2026-10、2026-12", "最近同步": "2026-11-06T01:00:00+00:00"},
        {"网格员": b.username, "姓名": b.full_name, "未使用月份": "2026-11、2026-12", "最近同步": "2026-10-31T15:30:00+00:00"},
    ], key=lambda r: r["网格员"])


def test_the_app_records_its_sync_and_bad_input_is_refused(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    headers = factories.auth_headers(world["users"]["worker_b"])
    first = client.post("/api/v1/app/sessions", json={"app_version": "0.1.0"}, headers=headers)
    second = client.post("/api/v1/app/sessions", json={"app_version": "0.1.1"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert (second.json()["syncs"], second.json()["app_version"]) == (first.json()["syncs"] + 1, "0.1.1")
    bad = client.post("/api/v1/app/sessions", json={"app_version": "1.0 <script>"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert client.post("/api/v1/app/sessions", json={"app_version": "0.1.0"}).status_code == 401
