"""The assessment's app usage counts the days the app synced (app_session), as the app usage
indicator does, besides the days a report or a visit of the worker reached the server."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from server.assessment.compute import app_sync_days
from server.auth.models import AppSession
from server.indicators.periods import parse_period
from tests import factories


def test_a_sync_day_without_reports_counts(db_session: Session) -> None:
    worker = factories.event_world(db_session)["users"]["worker_a"]
    at = datetime(2026, 10, 14, 1, tzinfo=UTC)  # 09:00 on 14 October in Asia/Shanghai
    db_session.add(AppSession(user_id=worker.id, day=date(2026, 10, 14), app_version="1.0.0", first_at=at, last_at=at,
                              syncs=3))
    db_session.flush()
    assert app_sync_days(db_session, parse_period("2026-10"), [worker.id])[worker.id] == {"2026-10-14"}
    assert app_sync_days(db_session, parse_period("2026-11"), [worker.id]).get(worker.id, set()) == set()
