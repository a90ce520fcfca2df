"""Trainings and weekly reports: recorded, produced from the week's data, and counted as indicators."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from docx import Document

from server.events import service as events
from server.events.schemas import EventCreate
from server.indicators import service as indicators
from server.indicators.periods import parse_period, parse_scope
from server.reports import service
from tests import factories


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def test_trainings_recorded_and_counted(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    held = datetime(2026, 11, 5, 2, 0, tzinfo=UTC).isoformat()
    street = factories.auth_headers(world["users"]["street1"])
    admin = factories.auth_headers(world["users"]["admin"])
    assert client.post("/api/v1/trainings", json={"title": "事件上报规范", "held_at": held, "attendees": 20},
                       headers=street).status_code == 201
    assert client.post("/api/v1/trainings", json={"title": "全区培训", "held_at": held, "attendees": 80},
                       headers=admin).status_code == 201
    other = client.post("/api/v1/trainings", json={"title": "x", "held_at": held, "attendees": 5,
                                                  "street_code": "440112002000"}, headers=street)
    assert other.status_code == 403
    assert client.post("/api/v1/trainings", json={"title": "x", "held_at": held, "attendees": 5},
                       headers=factories.auth_headers(world["users"]["worker_a"])).status_code == 403
    nov = parse_period("2026-11")
    count = lambda scope: indicators.compute(db_session=db_session, code="trainings_held",  # noqa: E731
                                             scope=parse_scope(scope), period=nov, now=datetime.now(UTC)).value
    assert count("street:440112001") == 2  # its own and the district-wide one
    assert count("street:440112002") == 1
    assert count("district:440112") == 2


def test_weekly_report_from_the_weeks_data(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for i in range(3):
        body = factories.event_body(reported_at=(now - timedelta(minutes=30 + i)).isoformat(), uuid=str(uuid.uuid4()),
                                    category_code="fire_hazard.passage" if i else "sanitation.garbage")
        events.create(db_session=db_session, reporter=world["users"]["worker_a"], data=EventCreate(**body), now=now)
    r = client.post("/api/v1/reports/weekly", headers=factories.auth_headers(world["users"]["command"]))
    assert r.status_code == 201, r.text
    md = r.json()["markdown"]
    assert "消防隐患" in md and "环境卫生" in md and "440112001001001" in md
    assert client.post("/api/v1/reports/weekly",
                       headers=factories.auth_headers(world["users"]["street1"])).status_code == 403
    docx = client.get(f"/api/v1/reports/weekly/{r.json()['id']}.docx",
                      headers=factories.auth_headers(world["users"]["admin"]))
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "周报" in text
    produced = indicators.compute(db_session=db_session, code="weekly_reports_produced",
                                  scope=parse_scope("district:440112"), period=parse_period(str(now.year)), now=now)
    assert produced.value == 1


def test_weekly_files_written(db_session, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    row, files = service.produce_weekly(db_session=db_session, district_code="440112", area="黄埔区",
                                        week_start=now.date(), now=now, user=None, out_dir=tmp_path)
    assert files is not None and files.markdown.exists() and files.docx is not None and files.docx.exists()
    assert row.week_start.weekday() == 0
